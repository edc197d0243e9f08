{{- define "app.namespace" -}}{{- default .Release.Namespace .Values.namespaceOverride -}}{{- end -}}
