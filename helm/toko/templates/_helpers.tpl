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

{{/* A setting as the string a process reads. Helm reads numbers of values files as
     floats: 1048576 would print as 1.048576e+06, so integral floats print as integers. */}}
{{- define "toko.envValue" -}}
{{- if kindIs "invalid" . }}
{{- else if and (kindIs "float64" .) (eq (float64 (int64 .)) .) }}
{{- int64 . }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/* Non-empty entries of a settings map as a string map. Args: MAP */}}
{{- define "toko.settings" -}}
{{- range $key, $value := . }}
{{- $text := include "toko.envValue" $value }}
{{- if ne $text "" }}
{{ $key }}: {{ $text | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Non-empty entries of .Values.config as a string map (ConfigMap data, Job env, checksum). */}}
{{- define "toko.configData" -}}
{{- include "toko.settings" .Values.config }}
{{- end }}

{{/* Non-empty entries of a settings map as a YAML list of EnvVars (api.config,
     workers.<name>.config). Use with fromYamlArray. Args: MAP */}}
{{- define "toko.settingsEnv" -}}
{{- $env := list }}
{{- range $key, $value := include "toko.settings" . | fromYaml }}
{{- $env = append $env (dict "name" $key "value" $value) }}
{{- end }}
{{- toYaml $env }}
{{- end }}

{{/* A duration setting (900, 900s, 200ms, 15m, 1h, 1d) in milliseconds. Args: VALUE */}}
{{- define "toko.durationMillis" -}}
{{- $text := include "toko.envValue" . | trim }}
{{- $number := regexFind "^[0-9]+" $text }}
{{- $factor := get (dict "" 1000 "s" 1000 "ms" 1 "m" 60000 "min" 60000 "h" 3600000 "d" 86400000) (trimPrefix $number $text) }}
{{- mul (int64 $number) (int64 $factor) }}
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

{{/* Chart-level rules the schema cannot express; renders nothing, fails with a message.
     Args: $ */}}
{{- define "toko.validate" -}}
{{- $s := .Values.secrets }}
{{- $chartSecret := not .Values.existingSecret }}
{{- if $chartSecret }}
{{- /* The always-required keys first, so their message wins. */}}
{{- $_ := include "toko.secretData" . }}
{{- end }}
{{- if and .Values.redis.enabled $chartSecret $s.REDIS_URL }}
{{- fail "redis.enabled and secrets.REDIS_URL are both set: use the in-chart Redis or an external one, not both" }}
{{- end }}
{{- $grace := mul (int64 .Values.terminationGracePeriodSeconds) 1000 }}
{{- range $name, $w := include "toko.workers" . | fromYaml }}
{{- if $w.enabled }}
{{- $key := include "toko.workerSecret" $name }}
{{- if and $key $chartSecret (not (get $s $key)) }}
{{- fail (printf "workers.%s is enabled but secrets.%s is empty: the %s cannot work without it. Set secrets.%s (or existingSecret with that key), or set workers.%s.enabled=false" $name $key $name $key $name) }}
{{- end }}
{{- $drain := default $.Values.config.DRAIN_TIMEOUT (dig "config" "DRAIN_TIMEOUT" "" $w) | default "25s" }}
{{- if ge (int64 (include "toko.durationMillis" $drain)) $grace }}
{{- fail (printf "DRAIN_TIMEOUT of %s (%v) must be shorter than terminationGracePeriodSeconds (%v), or Kubernetes kills it mid-drain" $name $drain $.Values.terminationGracePeriodSeconds) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Workers
*/}}

{{/* The Secret key a worker cannot start (or work) without, beyond the always-required
     ones; empty for the others. The worker reads it with a non-optional secretKeyRef.
     Args: WORKER NAME */}}
{{- define "toko.workerSecret" -}}
{{- get (dict "payment-poller" "MIDTRANS_SERVER_KEY" "notifier" "SMTP_URL") . }}
{{- end }}

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

{{/*
In-chart Redis (redis.enabled)
*/}}

{{- define "toko.redisName" -}}
{{- include "toko.componentName" (dict "ctx" . "component" "redis") }}
{{- end }}

{{/* REDIS_URL of the in-chart Redis. Args: $ */}}
{{- define "toko.redisUrl" -}}
{{- printf "redis://%s:6379" (include "toko.redisName" .) }}
{{- end }}

{{/* Selector labels of the in-chart Redis: another application (name redis), so the
     release-wide selectors of toko pods (NetworkPolicies, ServiceMonitor) leave it out. */}}
{{- define "toko.redisSelectorLabels" -}}
app.kubernetes.io/name: redis
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: rate-limits
{{- end }}

{{- define "toko.redisLabels" -}}
helm.sh/chart: {{ include "toko.chart" . }}
{{ include "toko.redisSelectorLabels" . }}
app.kubernetes.io/version: {{ .Values.redis.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: toko
{{- end }}
