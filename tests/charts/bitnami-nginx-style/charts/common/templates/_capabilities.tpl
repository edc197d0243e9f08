{{- define "common.capabilities.kubeVersion" -}}
{{- default (default .Capabilities.KubeVersion.Version .Values.kubeVersion) ((.Values.global).kubeVersion) -}}
{{- end -}}
{{- define "common.capabilities.policy.apiVersion" -}}
{{- if semverCompare "<1.21-0" (include "common.capabilities.kubeVersion" .) -}}policy/v1beta1{{- else -}}policy/v1{{- end -}}
{{- end -}}
{{- define "common.capabilities.ingress.apiVersion" -}}
{{- if (.Values.ingress).apiVersion -}}{{- .Values.ingress.apiVersion -}}
{{- else if semverCompare "<1.14-0" (include "common.capabilities.kubeVersion" .) -}}extensions/v1beta1
{{- else if semverCompare "<1.19-0" (include "common.capabilities.kubeVersion" .) -}}networking.k8s.io/v1beta1
{{- else -}}networking.k8s.io/v1{{- end }}
{{- end -}}
{{- define "common.capabilities.supportsHelmVersion" -}}
{{- if not (typeIs "string" .Capabilities.HelmVersion) }}true{{- end -}}
{{- end -}}
