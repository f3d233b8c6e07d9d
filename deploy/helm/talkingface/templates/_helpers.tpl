{{/* Chart name, at most 63 characters. */}}
{{- define "talkingface.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name, at most 63 characters. */}}
{{- define "talkingface.fullname" -}}
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

{{- define "talkingface.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels; call with (dict "root" $ "component" "gateway"). */}}
{{- define "talkingface.selectorLabels" -}}
app.kubernetes.io/name: {{ include "talkingface.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Common labels; call with (dict "root" $ "component" "gateway"). */}}
{{- define "talkingface.labels" -}}
helm.sh/chart: {{ include "talkingface.chart" .root }}
{{ include "talkingface.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: talkingface
{{- end }}

{{/* Image reference; call with (dict "root" $ "repository" "talkingface/gateway"). */}}
{{- define "talkingface.image" -}}
{{- $tag := default .root.Chart.AppVersion .root.Values.image.tag -}}
{{- if .root.Values.image.registry -}}
{{- printf "%s/%s:%s" .root.Values.image.registry .repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .repository $tag -}}
{{- end -}}
{{- end }}

{{/* ------------------------------------------------------------------------------------------- */}}
{{/* Credentials */}}

{{/* The Secret every process reads its credentials from. */}}
{{- define "talkingface.secretName" -}}
{{- default (printf "%s-services" (include "talkingface.fullname" .)) .Values.secrets.existingSecret -}}
{{- end }}

{{/*
A credential: the value given, else the one already in the chart's Secret (so upgrades keep generated
passwords), else a random one generated once per render (cached in .Values so every template that asks
gets the same). Call with (dict "root" $ "key" "rabbitmq-password" "value" .Values.rabbitmq.password).
*/}}
{{- define "talkingface.credential" -}}
{{- $root := .root -}}
{{- if .value -}}
{{- .value -}}
{{- else -}}
{{- $cache := default dict $root.Values.__generatedCredentials -}}
{{- if not (hasKey $cache .key) -}}
{{- $existing := lookup "v1" "Secret" $root.Release.Namespace (printf "%s-services" (include "talkingface.fullname" $root)) -}}
{{- $old := dig "data" .key "" (default dict $existing) -}}
{{- $_ := set $cache .key (ternary (b64dec $old) (randAlphaNum 24) (ne $old "")) -}}
{{- $_ := set $root.Values "__generatedCredentials" $cache -}}
{{- end -}}
{{- get $cache .key -}}
{{- end -}}
{{- end }}

{{/* The Secret's data (plain values; the caller base64-encodes). Output: YAML map. */}}
{{- define "talkingface.secretData" -}}
{{- $k := .Values.secrets.keys -}}
{{- $pg := .Values.postgresql -}}
{{- $mq := .Values.rabbitmq -}}
{{- $s3 := .Values.minio -}}
{{- if $pg.enabled }}
{{- $pw := include "talkingface.credential" (dict "root" . "key" $k.databasePassword "value" $pg.password) }}
{{ $k.databasePassword }}: {{ $pw | quote }}
{{ $k.databaseConnectionString }}: {{ printf "Host=%s;Port=5432;Database=%s;Username=%s;Password=%s" (include "talkingface.postgresql.host" .) $pg.database $pg.username $pw | quote }}
{{- else }}
{{- $e := $pg.external }}
{{ $k.databaseConnectionString }}: {{ printf "Host=%s;Port=%d;Database=%s;Username=%s;Password=%s%s" (include "talkingface.postgresql.host" .) (int $e.port) $e.database $e.username $e.password (ternary (printf ";%s" $e.parameters) "" (ne $e.parameters "")) | quote }}
{{- end }}
{{- $mqUser := ternary $mq.username $mq.external.username $mq.enabled }}
{{- $mqPass := ternary (include "talkingface.credential" (dict "root" . "key" $k.rabbitmqPassword "value" $mq.password)) $mq.external.password $mq.enabled }}
{{ $k.rabbitmqUsername }}: {{ $mqUser | quote }}
{{ $k.rabbitmqPassword }}: {{ $mqPass | quote }}
{{ $k.rabbitmqUri }}: {{ printf "amqp://%s:%s@%s:%d/%s" (urlquery $mqUser) (urlquery $mqPass) (include "talkingface.rabbitmq.host" .) (int (include "talkingface.rabbitmq.port" .)) (urlquery (include "talkingface.rabbitmq.vhost" .)) | quote }}
{{- if $s3.enabled }}
{{ $k.s3AccessKey }}: {{ $s3.rootUser | quote }}
{{ $k.s3SecretKey }}: {{ include "talkingface.credential" (dict "root" . "key" $k.s3SecretKey "value" $s3.rootPassword) | quote }}
{{- else }}
{{ $k.s3AccessKey }}: {{ $s3.external.accessKey | quote }}
{{ $k.s3SecretKey }}: {{ $s3.external.secretKey | quote }}
{{- end }}
{{- end }}

{{/* env entry from the services Secret; call with (dict "root" $ "name" "Env__Name" "key" "secret-key"). */}}
{{- define "talkingface.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "talkingface.secretName" .root }}
      key: {{ .key }}
{{- end }}

{{/* ------------------------------------------------------------------------------------------- */}}
{{/* Service addresses: bundled (in-cluster Service) or external */}}

{{- define "talkingface.postgresql.host" -}}
{{- if .Values.postgresql.enabled -}}
{{- printf "%s-postgresql" (include "talkingface.fullname" .) -}}
{{- else -}}
{{- required "postgresql.external.host is required when postgresql.enabled=false" .Values.postgresql.external.host -}}
{{- end -}}
{{- end }}

{{- define "talkingface.rabbitmq.host" -}}
{{- if .Values.rabbitmq.enabled -}}
{{- printf "%s-rabbitmq" (include "talkingface.fullname" .) -}}
{{- else -}}
{{- required "rabbitmq.external.host is required when rabbitmq.enabled=false" .Values.rabbitmq.external.host -}}
{{- end -}}
{{- end }}

{{- define "talkingface.rabbitmq.port" -}}
{{- ternary 5672 (int .Values.rabbitmq.external.port) .Values.rabbitmq.enabled -}}
{{- end }}

{{- define "talkingface.rabbitmq.vhost" -}}
{{- ternary .Values.rabbitmq.virtualHost .Values.rabbitmq.external.virtualHost .Values.rabbitmq.enabled -}}
{{- end }}

{{- define "talkingface.s3.endpoint" -}}
{{- if .Values.minio.enabled -}}
{{- printf "%s-minio:9000" (include "talkingface.fullname" .) -}}
{{- else -}}
{{- required "minio.external.endpoint is required when minio.enabled=false" .Values.minio.external.endpoint -}}
{{- end -}}
{{- end }}

{{/* Broker, store and model settings shared by the gateway, the workers and the migration Job. */}}
{{- define "talkingface.servicesEnv" -}}
{{- $k := .Values.secrets.keys -}}
- name: Messaging__Transport
  value: RabbitMq
- name: Messaging__RabbitMq__Host
  value: {{ include "talkingface.rabbitmq.host" . | quote }}
- name: Messaging__RabbitMq__Port
  value: {{ include "talkingface.rabbitmq.port" . | quote }}
- name: Messaging__RabbitMq__VirtualHost
  value: {{ include "talkingface.rabbitmq.vhost" . | quote }}
{{ include "talkingface.secretEnv" (dict "root" . "name" "Messaging__RabbitMq__Username" "key" $k.rabbitmqUsername) }}
{{ include "talkingface.secretEnv" (dict "root" . "name" "Messaging__RabbitMq__Password" "key" $k.rabbitmqPassword) }}
- name: Storage__Provider
  value: S3
- name: Storage__S3__Endpoint
  value: {{ include "talkingface.s3.endpoint" . | quote }}
- name: Storage__S3__UseSsl
  value: {{ and (not .Values.minio.enabled) .Values.minio.external.useSsl | quote }}
- name: Storage__S3__Bucket
  value: {{ .Values.storage.bucket | quote }}
{{- if and (not .Values.minio.enabled) .Values.minio.external.region }}
- name: Storage__S3__Region
  value: {{ .Values.minio.external.region | quote }}
{{- end }}
{{ include "talkingface.secretEnv" (dict "root" . "name" "Storage__S3__AccessKey" "key" $k.s3AccessKey) }}
{{ include "talkingface.secretEnv" (dict "root" . "name" "Storage__S3__SecretKey" "key" $k.s3SecretKey) }}
{{- end }}

{{/* ------------------------------------------------------------------------------------------- */}}
{{/* Workers */}}

{{/*
One worker component with its defaults applied: workerDefaults < deviceClasses[class] < the entry.
Call with (dict "root" $ "worker" $w "index" $i); returns YAML (use fromYaml).
*/}}
{{- define "talkingface.workerComponent" -}}
{{- $w := .worker -}}
{{- $stage := required (printf "workers[%d].stage is required" (int .index)) $w.stage -}}
{{- $class := required (printf "workers[%d].deviceClass is required" (int .index)) $w.deviceClass -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" (printf "%s-%s" $stage $class)) -}}
{{- fail (printf "workers[%d]: stage and deviceClass must be lower-case DNS labels, got %q and %q" (int .index) $stage $class) -}}
{{- end -}}
{{- $preset := deepCopy (default dict (get .root.Values.deviceClasses $class)) -}}
{{- $c := mergeOverwrite (deepCopy .root.Values.workerDefaults) $preset (deepCopy $w) -}}
{{- $_ := set $c "name" (printf "worker-%s-%s" $stage $class) -}}
{{- $_ := set $c "queue" (printf "%s.%s" $stage $class) -}}
{{- if not $c.image.repository -}}
{{- $_ := set $c.image "repository" (printf "talkingface/worker-%s%s" $stage (default "" $c.imageSuffix)) -}}
{{- end -}}
{{- toYaml $c -}}
{{- end }}

{{/* Image of a worker component; call with (dict "root" $ "image" $c.image). */}}
{{- define "talkingface.componentImage" -}}
{{- $tag := default (default .root.Chart.AppVersion .root.Values.image.tag) .image.tag -}}
{{- if .root.Values.image.registry -}}
{{- printf "%s/%s:%s" .root.Values.image.registry .image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end }}

{{/* Probes on the processes' health endpoints (port "http"). */}}
{{- define "talkingface.probes" -}}
startupProbe:
  httpGet:
    path: /health/live
    port: http
  periodSeconds: 5
  failureThreshold: 60
livenessProbe:
  httpGet:
    path: /health/live
    port: http
  periodSeconds: 20
  timeoutSeconds: 5
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /health/ready
    port: http
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 3
{{- end }}

{{/* Writable scratch space under a read-only root file system. */}}
{{- define "talkingface.scratchVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /app/.data
{{- end }}

{{- define "talkingface.scratchVolumes" -}}
- name: tmp
  emptyDir: {}
- name: data
  emptyDir: {}
{{- end }}

{{/* ------------------------------------------------------------------------------------------- */}}
{{/* Bundled services */}}

{{/* Security context of a bundled service's container; call with (dict "readOnly" true). */}}
{{- define "talkingface.bundledContainerSecurity" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: {{ .readOnly }}
capabilities:
  drop: [ALL]
{{- end }}

{{/* Data volume claim template, or nothing (the caller adds an emptyDir). Call with (dict "p" .persistence). */}}
{{- define "talkingface.volumeClaimTemplates" -}}
{{- if .p.enabled }}
volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      {{- with .p.storageClass }}
      storageClassName: {{ . }}
      {{- end }}
      resources:
        requests:
          storage: {{ .p.size }}
{{- end }}
{{- end }}
