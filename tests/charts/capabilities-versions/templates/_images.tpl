{{- define "ingress.image" -}}
{{- $digest := .digest -}}
{{- printf "%s/%s:%s%s" .registry .image .tag (ternary (printf "@%s" $digest) "" (not (empty $digest))) -}}
{{- end -}}
