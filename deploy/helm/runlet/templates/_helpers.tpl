{{/* Labels every object carries (src/kubernetes/names.ts: app.kubernetes.io/part-of=runlet). */}}
{{- define "runlet.labels" -}}
app.kubernetes.io/part-of: runlet
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "runlet.natsUrl" -}}
nats://runlet-nats.{{ .Values.namespaces.system }}.svc:4222
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
