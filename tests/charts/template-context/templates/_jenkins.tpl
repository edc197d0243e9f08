{{- define "jenkins.image" -}}{{ .registry }}/{{ .repository }}:{{ .tag }}{{- end -}}
{{- define "jenkins.where" -}}{{ .Template.Name }} in {{ .Template.BasePath }}{{- end -}}
