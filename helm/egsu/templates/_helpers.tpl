{{/*
Shared helpers. Every per-process template loops over the enabled entries of .Values.services and
asks "egsu.process" for the entry merged over .Values.serviceDefaults.
*/}}

{{- define "egsu.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "egsu.fullname" -}}
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

{{/* The name of a process's resources: "<fullname>-<process>". */}}
{{- define "egsu.processName" -}}
{{- printf "%s-%s" (include "egsu.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "egsu.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "egsu.labels" -}}
helm.sh/chart: {{ include "egsu.chart" . }}
app.kubernetes.io/name: {{ include "egsu.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: egsu
{{- end }}

{{/* Labels that select one process's pods. Arguments: root, name. */}}
{{- define "egsu.selectorLabels" -}}
app.kubernetes.io/name: {{ include "egsu.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* All labels of a process's resources and pods. Arguments: root, name, tier. */}}
{{- define "egsu.processLabels" -}}
{{ include "egsu.labels" .root }}
app.kubernetes.io/component: {{ .name }}
egsu.kz/tier: {{ .tier }}
{{- end }}

{{/* A process's settings: its entry merged over serviceDefaults, as YAML. Arguments: root, name. */}}
{{- define "egsu.process" -}}
{{- $entry := index .root.Values.services .name }}
{{- $p := mergeOverwrite (deepCopy .root.Values.serviceDefaults) (deepCopy $entry) }}
{{- if not $p.tier }}{{ $_ := set $p "tier" "service" }}{{ end }}
{{- if not $p.target }}{{ $_ := set $p "target" (printf "egsu.%s.app:create_app" .name) }}{{ end }}
{{- if not $p.image }}{{ $_ := set $p "image" .name }}{{ end }}
{{- toYaml $p }}
{{- end }}

{{/* Names of the enabled processes, sorted, as a JSON list. */}}
{{- define "egsu.enabledNames" -}}
{{- $names := list }}
{{- range $name, $entry := .Values.services }}
{{- if $entry.enabled }}{{ $names = append $names $name }}{{ end }}
{{- end }}
{{- toJson (sortAlpha $names) }}
{{- end }}

{{- define "egsu.image" -}}
{{- printf "%s/%s:%s" .root.Values.image.repository .image (default .root.Chart.AppVersion .root.Values.image.tag) }}
{{- end }}

{{/* EGSU_SERVICES: every enabled process of tier "service", name -> in-cluster URL. */}}
{{- define "egsu.servicesJson" -}}
{{- $out := dict }}
{{- range $name, $entry := .Values.services }}
{{- if and $entry.enabled (eq (default "service" $entry.tier) "service") }}
{{- $_ := set $out $name (printf "http://%s:8000" (include "egsu.processName" (dict "root" $ "name" $name))) }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{- define "egsu.busUrl" -}}
{{- if .Values.bus.url }}{{ .Values.bus.url }}
{{- else if .Values.nats.enabled }}{{ printf "nats://%s-nats:4222" .Release.Name }}
{{- else }}{{ fail "bus.url is required: the NATS server URLs (or nats.enabled=true)" }}
{{- end }}
{{- end }}

{{- define "egsu.objectStoreEndpoint" -}}
{{- if .Values.objectStore.endpoint }}{{ .Values.objectStore.endpoint }}
{{- else if .Values.minio.enabled }}{{ printf "http://%s-minio:9000" .Release.Name }}
{{- else }}{{ fail "objectStore.endpoint is required: the S3 endpoint (or minio.enabled=true)" }}
{{- end }}
{{- end }}

{{/* The Secret and key holding the PostgreSQL URL, as "secret/key", or "" for a plain URL. */}}
{{- define "egsu.databaseSecret" -}}
{{- $db := .Values.database }}
{{- if $db.existingSecret }}{{ printf "%s/%s" $db.existingSecret $db.urlKey }}
{{- else if $db.cloudnativepg.cluster }}{{ printf "%s-app/uri" $db.cloudnativepg.cluster }}
{{- else if not $db.url }}{{ fail "set database.existingSecret (a Secret with the URL), database.cloudnativepg.cluster or database.url" }}
{{- end }}
{{- end }}

{{/* The environment of the PostgreSQL URL. */}}
{{- define "egsu.databaseEnv" -}}
{{- $secret := include "egsu.databaseSecret" . }}
{{- if $secret }}
- name: EGSU_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ index (splitList "/" $secret) 0 }}
      key: {{ index (splitList "/" $secret) 1 }}
{{- else }}
- name: EGSU_DATABASE_URL
  value: {{ .Values.database.url | quote }}
{{- end }}
{{- end }}

{{/* The EGSU_* environment of a process. Arguments: root, name, p (the merged settings). */}}
{{- define "egsu.env" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $p := .p }}
- name: EGSU_SERVICE_NAME
  value: {{ .name | quote }}
- name: EGSU_ENVIRONMENT
  value: {{ $v.environment | quote }}
- name: EGSU_LOG_LEVEL
  value: {{ $v.logLevel | quote }}
- name: EGSU_LOG_JSON
  value: "true"
- name: EGSU_VAR_DIR
  value: /tmp/egsu
- name: HOME
  value: /tmp
- name: EGSU_SERVICES
  value: {{ include "egsu.servicesJson" $root | quote }}
- name: EGSU_GATEWAY_URL
  value: {{ printf "http://%s:8000" (include "egsu.processName" (dict "root" $root "name" "gateway")) | quote }}
{{- if and (eq .name "gateway") (dig "web" "enabled" false $v.services) }}
- name: EGSU_WEB_URL
  value: {{ printf "http://%s:8000" (include "egsu.processName" (dict "root" $root "name" "web")) | quote }}
{{- end }}
{{- if $v.otlpEndpoint }}
- name: EGSU_OTLP_ENDPOINT
  value: {{ $v.otlpEndpoint | quote }}
{{- end }}
{{- if has "database" $p.uses }}
{{- include "egsu.databaseEnv" $root }}
- name: EGSU_DATABASE_POOL_SIZE
  value: {{ $v.database.poolSize | quote }}
- name: EGSU_DATABASE_MAX_OVERFLOW
  value: {{ $v.database.maxOverflow | quote }}
{{- end }}
{{- if has "bus" $p.uses }}
- name: EGSU_NATS_URL
  value: {{ include "egsu.busUrl" $root | quote }}
- name: EGSU_STREAM_REPLICAS
  value: {{ $v.bus.streamReplicas | quote }}
{{- if and $v.bus.existingSecret $v.bus.userKey }}
- name: EGSU_NATS_USER
  valueFrom:
    secretKeyRef: {name: {{ $v.bus.existingSecret }}, key: {{ $v.bus.userKey }}}
{{- end }}
{{- if and $v.bus.existingSecret $v.bus.passwordKey }}
- name: EGSU_NATS_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $v.bus.existingSecret }}, key: {{ $v.bus.passwordKey }}}
{{- end }}
{{- if and $v.bus.existingSecret $v.bus.credsKey }}
- name: EGSU_NATS_CREDS_FILE
  value: /etc/egsu/nats/nats.creds
{{- end }}
{{- end }}
{{- if has "objectStore" $p.uses }}
- name: EGSU_S3_ENDPOINT
  value: {{ include "egsu.objectStoreEndpoint" $root | quote }}
- name: EGSU_S3_REGION
  value: {{ $v.objectStore.region | quote }}
- name: EGSU_S3_BUCKET_PREFIX
  value: {{ $v.objectStore.bucketPrefix | quote }}
- name: EGSU_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ required "objectStore.existingSecret is required" $v.objectStore.existingSecret }}, key: {{ $v.objectStore.accessKeyKey }}}
- name: EGSU_S3_SECRET_KEY
  valueFrom:
    secretKeyRef: {name: {{ $v.objectStore.existingSecret }}, key: {{ $v.objectStore.secretKeyKey }}}
{{- end }}
{{- if has "oidc" $p.uses }}
- name: EGSU_OIDC_ISSUER
  value: {{ required "oidc.issuer is required" $v.oidc.issuer | quote }}
{{- if $v.oidc.internalUrl }}
- name: EGSU_OIDC_INTERNAL_URL
  value: {{ $v.oidc.internalUrl | quote }}
{{- end }}
- name: EGSU_OIDC_AUDIENCE
  value: {{ $v.oidc.audience | quote }}
- name: EGSU_CLIENT_ID
  value: {{ printf "egsu-%s" .name | quote }}
- name: EGSU_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ required "oidc.clientSecretsSecret is required" $v.oidc.clientSecretsSecret }}
      key: {{ printf "EGSU_CLIENT_SECRET_EGSU_%s" (.name | upper | replace "-" "_") }}
{{- end }}
{{- range $k, $val := $p.env }}
- name: {{ $k }}
  value: {{ $val | quote }}
{{- end }}
{{- range $k, $ref := $p.secretEnv }}
- name: {{ $k }}
  valueFrom:
    secretKeyRef: {name: {{ $ref.secret }}, key: {{ $ref.key }}}
{{- end }}
{{- end }}

{{/* The restricted security context of every container. */}}
{{- define "egsu.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "egsu.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* NetworkPolicy egress rules to a backend. Arguments: root, backend. */}}
{{- define "egsu.egressTo" -}}
{{- $rule := index .root.Values.networkPolicy.egress .backend }}
- ports:
  {{- range $rule.ports }}
    - {protocol: TCP, port: {{ . }}}
  {{- end }}
  {{- $peers := $rule.to }}
  {{- if and (eq .backend "database") .root.Values.database.cloudnativepg.cluster }}
  {{- $peers = append $peers (dict "podSelector" (dict "matchLabels" (dict "cnpg.io/cluster" .root.Values.database.cloudnativepg.cluster))) }}
  {{- end }}
  {{- if and (eq .backend "bus") .root.Values.nats.enabled }}
  {{- $peers = append $peers (dict "podSelector" (dict "matchLabels" (dict "app.kubernetes.io/name" "nats" "app.kubernetes.io/instance" .root.Release.Name))) }}
  {{- end }}
  {{- if and (eq .backend "objectStore") .root.Values.minio.enabled }}
  {{- $peers = append $peers (dict "podSelector" (dict "matchLabels" (dict "app" "minio" "release" .root.Release.Name))) }}
  {{- end }}
  {{- if and (eq .backend "oidc") .root.Values.keycloak.enabled }}
  {{- $peers = append $peers (dict "podSelector" (dict "matchLabels" (dict "app.kubernetes.io/name" "keycloak" "app.kubernetes.io/instance" .root.Release.Name))) }}
  {{- end }}
  {{- with $peers }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{- define "egsu.dnsEgress" -}}
- ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
  to:
    {{- toYaml .Values.networkPolicy.dns | nindent 4 }}
{{- end }}
