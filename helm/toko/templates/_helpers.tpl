{{/*
Names
*/}}

{{/* Chart name, overridable with nameOverride. */}}
{{- define "toko.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Prefix of every resource name: fullnameOverride, or <release>[-<chart>]. */}}
{{- define "toko.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of one component's resources: <fullname>-<component>. Args: (dict "ctx" $ "component" "api") */}}
{{- define "toko.componentName" -}}
{{- printf "%s-%s" (include "toko.fullname" .ctx) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "toko.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "toko.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "toko.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret every toko container loads: existingSecret, or the one this chart renders. */}}
{{- define "toko.secretName" -}}
{{- default (printf "%s-secrets" (include "toko.fullname" .)) .Values.existingSecret }}
{{- end }}

{{- define "toko.configMapName" -}}
{{- printf "%s-config" (include "toko.fullname" .) }}
{{- end }}

{{- define "toko.image" -}}
{{- printf "%s:%s" .Values.image.repository .Values.image.tag }}
{{- end }}

{{/*
Labels. Args of the component-aware helpers: (dict "ctx" $ "component" "api")
*/}}

{{- define "toko.labels" -}}
helm.sh/chart: {{ include "toko.chart" .ctx }}
{{ include "toko.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: toko
{{- end }}

{{- define "toko.selectorLabels" -}}
app.kubernetes.io/name: {{ include "toko.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/*
Configuration
*/}}

{{/* Non-empty entries of .Values.config as a string map (ConfigMap data, Job env, checksum). */}}
{{- define "toko.configData" -}}
{{- range $key, $value := .Values.config }}
{{- if ne (toString $value) "" }}
{{ $key }}: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Checksums that roll the pods when the chart-managed configuration changes. */}}
{{- define "toko.checksumAnnotations" -}}
checksum/config: {{ include "toko.configData" . | sha256sum }}
{{- if not .Values.existingSecret }}
checksum/secret: {{ include "toko.secretData" . | sha256sum }}
{{- end }}
{{- end }}

{{/* Data of the chart-managed Secret; fails early on missing or weak required values. */}}
{{- define "toko.secretData" -}}
{{- $s := .Values.secrets }}
{{- range $key := list "DATABASE_URL" "JWT_SECRET" "RABBITMQ_URL" }}
{{- if not (get $s $key) }}
{{- fail (printf "secrets.%s is required unless existingSecret names a Secret that holds it" $key) }}
{{- end }}
{{- end }}
{{- if and (has (toString .Values.config.APP_ENV) (list "production" "prod")) (lt (len $s.JWT_SECRET) 32) }}
{{- fail "secrets.JWT_SECRET must be at least 32 bytes when config.APP_ENV is production" }}
{{- end }}
{{- range $key, $value := $s }}
{{- if $value }}
{{ $key }}: {{ $value | b64enc | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Workers
*/}}

{{/* Deep-merges .src into the map .dst in place (maps merge key by key, anything else
     replaces). Unlike sprig's mergeOverwrite it honours false and 0 in .src. */}}
{{- define "toko.mergeInto" -}}
{{- $dst := .dst }}
{{- range $key, $value := .src }}
{{- if and (kindIs "map" $value) (kindIs "map" (get $dst $key)) }}
{{- include "toko.mergeInto" (dict "dst" (get $dst $key) "src" $value) }}
{{- else }}
{{- $_ := set $dst $key $value }}
{{- end }}
{{- end }}
{{- end }}

{{/* Effective settings of every worker: workerDefaults overridden by workers.<name>.
     Returns YAML {name: settings}; use with fromYaml. Args: $ */}}
{{- define "toko.workers" -}}
{{- $all := dict }}
{{- range $name, $override := .Values.workers }}
{{- $settings := deepCopy $.Values.workerDefaults }}
{{- include "toko.mergeInto" (dict "dst" $settings "src" (default dict $override)) }}
{{- $_ := set $all $name $settings }}
{{- end }}
{{- toYaml $all }}
{{- end }}

{{/* RabbitMQ queue consumed by a worker (docs/CONVENTIONS.md). */}}
{{- define "toko.queueName" -}}
toko.{{ . }}
{{- end }}

{{/*
Pods
*/}}

{{/* Probe timings from values plus an httpGet on the given path and named port.
     Args: (dict "path" "/health/ready" "port" "http" "timings" $values) */}}
{{- define "toko.probe" -}}
httpGet:
  path: {{ .path }}
  port: {{ .port }}
{{ toYaml .timings }}
{{- end }}

{{/* startupProbe, livenessProbe and readinessProbe of a toko container.
     Args: (dict "port" "http" "probes" $component.probes) */}}
{{- define "toko.probes" -}}
startupProbe:
  {{- include "toko.probe" (dict "path" "/health/live" "port" .port "timings" .probes.startup) | nindent 2 }}
livenessProbe:
  {{- include "toko.probe" (dict "path" "/health/live" "port" .port "timings" .probes.liveness) | nindent 2 }}
readinessProbe:
  {{- include "toko.probe" (dict "path" "/health/ready" "port" .port "timings" .probes.readiness) | nindent 2 }}
{{- end }}

{{/* Pod-spec fields shared by every toko pod (Deployments, migration Job, test pod). Args: $ */}}
{{- define "toko.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{/* Container fields shared by every toko container: image, security, writable /tmp. Args: $ */}}
{{- define "toko.containerCommon" -}}
image: {{ include "toko.image" . | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- end }}
