{{/* Labels every object carries (src/kubernetes/names.ts: app.kubernetes.io/part-of=runlet). */}}
{{- define "runlet.labels" -}}
app.kubernetes.io/part-of: runlet
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* The user is in the URL, its password in RUNLET_NATS_PASSWORD (the Secret), never in args. */}}
{{- define "runlet.natsUrl" -}}
{{- .Values.gateway.natsUrl | default (printf "nats://runlet@runlet-nats.%s.svc:4222" .Values.namespaces.system) -}}
{{- end -}}

{{/* What every Runlet container runs with: no root, no new privileges, no capabilities. */}}
{{- define "runlet.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
