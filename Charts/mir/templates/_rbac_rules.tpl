{{/*
The controller's rules, kept identical to Manifests/rbac/ (a test compares the rendered objects).
*/}}

{{- define "mir.controllerClusterRules" -}}
# Watch ManagedImages (informer: list + watch; get before each reconcile) and add/remove mir's finalizer (update).
- apiGroups: [mir.dev]
  resources: [managedimages]
  verbs: [get, list, watch, update]
# Write observed state through the status subresource (update; a conflict re-reads the object with get above).
- apiGroups: [mir.dev]
  resources: [managedimages/status]
  verbs: [update]
# Owner references with blockOwnerDeletion on build Jobs and ConfigMaps require update on the owner's finalizers.
- apiGroups: [mir.dev]
  resources: [managedimages/finalizers]
  verbs: [update]
# Events about ManagedImages (cluster-scoped objects: their Events go to the `default` namespace); patch updates
# the count of a repeated event.
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- end }}

{{- define "mir.leaderElectionRules" -}}
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [create]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  resourceNames: [{{ include "mir.leaseName" . }}]
  verbs: [get, update]
{{- end }}

{{- define "mir.buildsRules" -}}
- apiGroups: [batch]
  resources: [jobs]
  verbs: [create, delete, get, list, watch]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [create, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [list]
{{- end }}
