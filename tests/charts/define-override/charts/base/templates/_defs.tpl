{{- define "shared.image" -}}{{ .Values.image }}{{- end -}}
{{- define "shared.name" -}}base-name{{- end -}}
