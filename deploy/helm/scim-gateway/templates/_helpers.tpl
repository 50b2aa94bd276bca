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
