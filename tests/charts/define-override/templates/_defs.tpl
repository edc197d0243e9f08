{{- define "shared.name" -}}parent-name{{- end -}}
