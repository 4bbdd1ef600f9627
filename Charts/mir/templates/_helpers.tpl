{{/*
Names and labels shared by every template.
*/}}

{{/* The chart's name, overridable with nameOverride. */}}
{{- define "mir.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every object's name: the release name when it already contains the chart's name (release "mir" →
"mir-controller", as in Manifests/), else "<release>-<chart>". fullnameOverride wins.
*/}}
{{- define "mir.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* name-version, as helm.sh/chart expects. */}}
{{- define "mir.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "mir.labels" -}}
helm.sh/chart: {{ include "mir.chart" . }}
app.kubernetes.io/name: {{ include "mir.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mir
{{- end }}

{{/* The controller's selector labels (stable across upgrades: never add to them). */}}
{{- define "mir.controllerSelectorLabels" -}}
app.kubernetes.io/name: {{ include "mir.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{/* Labels of the controller's objects. */}}
{{- define "mir.controllerLabels" -}}
{{ include "mir.labels" . }}
app.kubernetes.io/component: controller
{{- end }}

{{/* The controller's ServiceAccount name. */}}
{{- define "mir.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-controller" (include "mir.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The build Jobs' ServiceAccount name. */}}
{{- define "mir.builderServiceAccountName" -}}
{{- default (printf "%s-builder" (include "mir.fullname" .)) .Values.builder.serviceAccount.name }}
{{- end }}

{{/* The leader-election Lease's name (the Role grants get/update on this name only). */}}
{{- define "mir.leaseName" -}}
{{- printf "%s-controller" (include "mir.fullname" .) }}
{{- end }}

{{/* The controller image: repository@digest when a digest is set, else repository:tag (tag defaults to appVersion). */}}
{{- define "mir.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
mir.yaml: `config` with the builder settings that the chart's `builder.*` values own. Null values are left out
(mir applies its defaults).
*/}}
{{- define "mir.config" -}}
{{- $config := dict }}
{{- range $key, $value := .Values.config }}
{{- if not (kindIs "invalid" $value) }}
{{- $_ := set $config $key $value }}
{{- end }}
{{- end }}
{{- $builder := deepCopy (default dict .Values.config.builder) }}
{{- $_ := set $builder "buildNamespace" .Values.builder.namespace }}
{{- $_ := set $builder "serviceAccountName" (include "mir.builderServiceAccountName" .) }}
{{- $_ := set $builder "kanikoImage" .Values.builder.kanikoImage }}
{{- $_ := set $config "builder" $builder }}
{{- toYaml $config }}
{{- end }}

{{/* Labels of the admission policy's objects (the labels `mir admission` writes, plus Helm's own). */}}
{{- define "mir.admissionLabels" -}}
{{ include "mir.labels" . }}
app.kubernetes.io/component: admission
{{- end }}
