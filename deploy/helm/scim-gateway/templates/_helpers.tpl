{{/* The chart's name, at most 63 characters. */}}
{{- define "scim-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: release-chart, unless the release name already holds the chart's. */}}
{{- define "scim-gateway.fullname" -}}
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

{{- define "scim-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "scim-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scim-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "scim-gateway.labels" -}}
helm.sh/chart: {{ include "scim-gateway.chart" . }}
{{ include "scim-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "scim-gateway.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret holding keys.toml. */}}
{{- define "scim-gateway.keysSecret" -}}
{{- default (printf "%s-keys" (include "scim-gateway.fullname" .)) .Values.keys.existingSecret }}
{{- end }}

{{/* The Secret holding the legacy API's credential. */}}
{{- define "scim-gateway.legacySecret" -}}
{{- default (printf "%s-legacy" (include "scim-gateway.fullname" .)) .Values.legacyCredential.existingSecret }}
{{- end }}

{{/* The mapping's YAML: the value given, else the example shipped in files/. */}}
{{- define "scim-gateway.mapping" -}}
{{- default (.Files.Get "files/acme-hr.yaml") .Values.mapping.content }}
{{- end }}

{{/* The group store's settings, checked: an unknown kind, several replicas on one SQLite file, or
PostgreSQL without the Secret holding its URL stop the rendering with the fix. */}}
{{- define "scim-gateway.validateStore" -}}
{{- $kind := .Values.store.kind }}
{{- if not (has $kind (list "sqlite" "postgres")) }}
{{- fail (printf "store.kind must be sqlite or postgres, not %q" $kind) }}
{{- end }}
{{- if and (eq $kind "sqlite") (gt (int .Values.replicaCount) 1) }}
{{- fail (printf "replicaCount is %d but store.kind is sqlite: each replica would have its own SQLite file, and the groups would differ between them. Use replicaCount=1, or store.kind=postgres with store.postgres.existingSecret (a PostgreSQL database shared by every replica)." (int .Values.replicaCount)) }}
{{- end }}
{{- if and (eq $kind "sqlite") (not (isAbs .Values.store.sqlite.path)) }}
{{- fail (printf "store.sqlite.path must be an absolute path (its directory is the volume's mount point), not %q" .Values.store.sqlite.path) }}
{{- end }}
{{- if and (eq $kind "postgres") (not .Values.store.postgres.existingSecret) }}
{{- fail "store.kind is postgres but store.postgres.existingSecret is empty: create a Secret holding the URL (kubectl create secret generic scim-gateway-store --from-literal=url=postgres://USER:PASSWORD@HOST:5432/DATABASE) and name it in store.postgres.existingSecret" }}
{{- end }}
{{- end }}

{{/* The PersistentVolumeClaim of the SQLite store. */}}
{{- define "scim-gateway.storeClaim" -}}
{{- printf "%s-store" (include "scim-gateway.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
