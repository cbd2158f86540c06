{{/*
Names and labels.
*/}}
{{- define "gatehouse.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gatehouse.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse.labels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gatehouse.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
The policy ConfigMap's name and the files to load from it, or nothing for the image's default.
*/}}
{{- define "gatehouse.policyConfigMap" -}}
{{- if .Values.policies.existingConfigMap -}}
{{- .Values.policies.existingConfigMap -}}
{{- else if .Values.policies.inline -}}
{{- printf "%s-policies" (include "gatehouse.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse.policyFiles" -}}
{{- $files := list -}}
{{- if .Values.policies.existingConfigMap -}}
{{- $files = .Values.policies.files -}}
{{- else if .Values.policies.inline -}}
{{- $files = keys .Values.policies.inline | sortAlpha -}}
{{- end -}}
{{- $paths := list -}}
{{- range $files -}}
{{- $paths = append $paths (printf "/etc/gatehouse/policies/%s" .) -}}
{{- end -}}
{{- join "," $paths -}}
{{- end -}}

{{/*
gatehouse.sidecar: the Gatehouse container, to put under a pod's initContainers. With
restartPolicy: Always it is a native sidecar (Kubernetes 1.29+): it starts before the app
containers, is ready before they start, keeps running beside them, and stops after them.

In this chart:                {{ include "gatehouse.sidecar" . | nindent 8 }}
From a parent chart that has this chart as a dependency named gatehouse:
  {{ include "gatehouse.sidecar" (dict "Values" .Values.gatehouse "Release" .Release "Chart" (index .Subcharts "gatehouse").Chart) | nindent 8 }}
*/}}
{{- define "gatehouse.sidecar" -}}
- name: gatehouse
  image: {{ include "gatehouse.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  restartPolicy: Always
  args: ["serve"]
  ports:
    - name: gatehouse
      containerPort: {{ .Values.proxyPort }}
      protocol: TCP
    - name: gatehouse-admin
      containerPort: {{ .Values.adminPort }}
      protocol: TCP
  env:
    - name: GATEHOUSE_LISTEN
      value: {{ printf "0.0.0.0:%v" .Values.proxyPort | quote }}
    - name: GATEHOUSE_ADMIN_LISTEN
      value: {{ printf "0.0.0.0:%v" .Values.adminPort | quote }}
    - name: GATEHOUSE_UPSTREAM
      value: {{ .Values.upstream | quote }}
    - name: GATEHOUSE_EVENTS_SOCKET
      value: {{ printf "%s/events.sock" .Values.socketDir | quote }}
    - name: GATEHOUSE_APP
      value: {{ .Values.appName | quote }}
    - name: GATEHOUSE_LOG_LEVEL
      value: {{ .Values.logLevel | quote }}
    {{- with .Values.trustedProxies }}
    - name: GATEHOUSE_TRUSTED_PROXIES
      value: {{ join "," . | quote }}
    {{- end }}
    {{- with .Values.mode }}
    - name: GATEHOUSE_MODE
      value: {{ . | quote }}
    {{- end }}
    {{- with (include "gatehouse.policyFiles" .) }}
    - name: GATEHOUSE_POLICY
      value: {{ . | quote }}
    {{- end }}
    {{- if .Values.redis.url }}
    - name: GATEHOUSE_REDIS
      value: {{ .Values.redis.url | quote }}
    {{- if .Values.redis.existingSecret }}
    - name: GATEHOUSE_REDIS_PASSWORD
      valueFrom:
        secretKeyRef:
          name: {{ .Values.redis.existingSecret }}
          key: {{ .Values.redis.passwordKey }}
    {{- end }}
    {{- end }}
    {{- if .Values.adminToken.existingSecret }}
    - name: GATEHOUSE_ADMIN_TOKEN
      valueFrom:
        secretKeyRef:
          name: {{ .Values.adminToken.existingSecret }}
          key: {{ .Values.adminToken.key }}
    {{- end }}
    {{- if .Values.sessionHashKey.existingSecret }}
    - name: GATEHOUSE_IDENTITY_HASH_KEY
      valueFrom:
        secretKeyRef:
          name: {{ .Values.sessionHashKey.existingSecret }}
          key: {{ .Values.sessionHashKey.key }}
    {{- end }}
    {{- range $name, $value := .Values.extraEnv }}
    - name: {{ $name }}
      value: {{ $value | quote }}
    {{- end }}
  volumeMounts:
    - name: gatehouse-socket
      mountPath: {{ .Values.socketDir }}
    {{- if (include "gatehouse.policyConfigMap" .) }}
    - name: gatehouse-policies
      mountPath: /etc/gatehouse/policies
      readOnly: true
    {{- end }}
  startupProbe:
    httpGet:
      path: /healthz
      port: gatehouse-admin
    periodSeconds: {{ .Values.probes.startup.periodSeconds }}
    timeoutSeconds: {{ .Values.probes.startup.timeoutSeconds }}
    failureThreshold: {{ .Values.probes.startup.failureThreshold }}
  livenessProbe:
    httpGet:
      path: /healthz
      port: gatehouse-admin
    periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
    timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
    failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: gatehouse-admin
    periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
    timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
    failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
  resources:
    {{- toYaml .Values.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
{{- end -}}

{{/*
gatehouse.volumes: the pod volumes the sidecar needs, to put under the pod's volumes.
*/}}
{{- define "gatehouse.volumes" -}}
- name: gatehouse-socket
  emptyDir:
    medium: Memory
    sizeLimit: 1Mi
{{- with (include "gatehouse.policyConfigMap" .) }}
- name: gatehouse-policies
  configMap:
    name: {{ . }}
{{- end }}
{{- end -}}

{{/*
gatehouse.appVolumeMount: mount the event socket's directory in the app container, so the app
can report detection events to <socketDir>/events.sock.
*/}}
{{- define "gatehouse.appVolumeMount" -}}
- name: gatehouse-socket
  mountPath: {{ .Values.socketDir }}
{{- end -}}
