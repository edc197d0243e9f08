{{- define "postgresql.database" -}}
{{- if .Values.global.postgresql.auth.database }}{{- .Values.global.postgresql.auth.database -}}
{{- else if .Values.auth.database -}}{{- .Values.auth.database -}}{{- end -}}
{{- end -}}
{{- define "postgresql.volumePermissions.image" -}}
{{ include "common.images.image" (dict "imageRoot" .Values.volumePermissions.image "global" .Values.global) }}
{{- end -}}
