{{/* Object name: fullnameOverride, else the release name (release "vault" → vault-0). */}}
{{- define "vaultlet.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vaultlet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vaultlet.namespace" -}}
{{- default .Release.Namespace .Values.global.namespace -}}
{{- end -}}

{{- define "vaultlet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vaultlet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
component: server
{{- end -}}

{{- define "vaultlet.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "vaultlet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "vaultlet.serviceAccountName" -}}
{{- if .Values.server.serviceAccount.create -}}
{{- default (include "vaultlet.fullname" .) .Values.server.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.server.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "vaultlet.image" -}}
{{- printf "%s:%s" .Values.server.image.repository (default .Chart.AppVersion .Values.server.image.tag | toString) -}}
{{- end -}}

{{/* HA mode: several replicas on PostgreSQL. */}}
{{- define "vaultlet.ha" -}}
{{- if and .Values.server.ha .Values.server.ha.enabled -}}true{{- end -}}
{{- end -}}

{{/* The server configuration file (durable and HA modes). */}}
{{- define "vaultlet.serverConfig" -}}
{{- if include "vaultlet.ha" . -}}
{{ tpl .Values.server.ha.config . }}
{{- else -}}
{{ tpl .Values.server.standalone.config . }}
{{- end -}}
{{- end -}}

{{/* Durable (not dev) mode. */}}
{{- define "vaultlet.durable" -}}
{{- if not .Values.server.dev.enabled -}}true{{- end -}}
{{- end -}}

{{- define "vaultlet.unsealSecretName" -}}
{{- default (printf "%s-unseal-key" (include "vaultlet.fullname" .)) .Values.server.autoUnseal.existingSecret -}}
{{- end -}}

{{/* Everything rendered only when global.enabled and server.enabled. */}}
{{- define "vaultlet.enabled" -}}
{{- if and .Values.global.enabled .Values.server.enabled -}}true{{- end -}}
{{- end -}}
