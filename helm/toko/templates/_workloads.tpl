{{/*
Workload builders shared by the API and every worker, so each object kind is written once.
*/}}

{{/* A toko Deployment.
     Args: (dict "ctx" $ "component" NAME "settings" SETTINGS "args" (list BINARY)
                 "port" (dict "name" PORTNAME "number" PORT) "env" (list EnvVar...)
                 "autoscaled" BOOL ["extraPorts" (list (dict "name" PORTNAME "number" PORT))])
     SETTINGS: replicaCount, resources, probes, podAnnotations[, topologySpreadConstraints]
     The probes use "port". */}}
{{- define "toko.deployment" -}}
{{- $ctx := .ctx }}
{{- $v := .settings }}
{{- $selector := include "toko.selectorLabels" . -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "toko.componentName" . }}
  labels:
    {{- include "toko.labels" . | nindent 4 }}
spec:
  {{- if not .autoscaled }}
  replicas: {{ $v.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- $selector | nindent 6 }}
  template:
    metadata:
      labels:
        {{- $selector | nindent 8 }}
        {{- with $ctx.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- include "toko.checksumAnnotations" $ctx | nindent 8 }}
        {{- with merge (dict) (default dict $v.podAnnotations) $ctx.Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "toko.serviceAccountName" $ctx }}
      automountServiceAccountToken: {{ $ctx.Values.serviceAccount.automountToken }}
      terminationGracePeriodSeconds: {{ $ctx.Values.terminationGracePeriodSeconds }}
      {{- include "toko.podCommon" $ctx | trim | nindent 6 }}
      {{- with $v.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- range . }}
        - {{ toYaml (merge (dict) . (dict "labelSelector" (dict "matchLabels" ($selector | fromYaml)))) | nindent 10 | trim }}
        {{- end }}
      {{- end }}
      containers:
        - name: {{ .component }}
          {{- include "toko.containerCommon" $ctx | nindent 10 }}
          args:
            {{- toYaml .args | nindent 12 }}
          ports:
            {{- range prepend (default list .extraPorts) .port }}
            - name: {{ .name }}
              containerPort: {{ .number }}
              protocol: TCP
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ include "toko.configMapName" $ctx }}
            - secretRef:
                name: {{ include "toko.secretName" $ctx }}
          {{- with concat .env $ctx.Values.extraEnv }}
          env:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- include "toko.probes" (dict "port" .port.name "probes" $v.probes) | nindent 10 }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
{{- end }}

{{/* A ClusterIP-style Service in front of one component's named port.
     Args: (dict "ctx" $ "component" NAME "type" TYPE "port" PORT "targetPort" PORTNAME
                 "annotations" MAP ["extraPorts" (list (dict "name" PORTNAME "number" PORT))])
     Extra ports are served under their container port number and name. */}}
{{- define "toko.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "toko.componentName" . }}
  labels:
    {{- include "toko.labels" . | nindent 4 }}
  {{- with .annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ .type }}
  selector:
    {{- include "toko.selectorLabels" . | nindent 4 }}
  ports:
    - name: {{ .targetPort }}
      port: {{ .port }}
      targetPort: {{ .targetPort }}
      protocol: TCP
    {{- range .extraPorts }}
    - name: {{ .name }}
      port: {{ .number }}
      targetPort: {{ .name }}
      protocol: TCP
    {{- end }}
{{- end }}

{{/* A CPU HorizontalPodAutoscaler for one component's Deployment.
     Args: (dict "ctx" $ "component" NAME "autoscaling" (minReplicas maxReplicas
                 targetCPUUtilizationPercentage)) */}}
{{- define "toko.hpa" -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "toko.componentName" . }}
  labels:
    {{- include "toko.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "toko.componentName" . }}
  minReplicas: {{ max 1 .autoscaling.minReplicas }}
  maxReplicas: {{ .autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
