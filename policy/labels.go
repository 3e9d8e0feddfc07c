package policy

// Label keys and prefixes that policy selectors can match on besides an endpoint's
// own labels.
const (
	LabelNamespace      = "projectcalico.org/namespace"
	LabelOrchestrator   = "projectcalico.org/orchestrator"
	LabelServiceAccount = "projectcalico.org/serviceaccount"
	// LabelName is added to namespace and service-account labels before prefixing,
	// so pcns.projectcalico.org/name=<namespace> and pcsa.projectcalico.org/name=<sa>.
	LabelName = "projectcalico.org/name"
	// OrchestratorKubernetes is the value of LabelOrchestrator for pods.
	OrchestratorKubernetes = "k8s"
	// NamespaceLabelPrefix prefixes namespace labels on endpoints and network sets.
	NamespaceLabelPrefix = "pcns."
	// ServiceAccountLabelPrefix prefixes service-account labels on endpoints.
	ServiceAccountLabelPrefix = "pcsa."
)

// EndpointIdentity is what the label set of a pod is made from.
type EndpointIdentity struct {
	Namespace            string
	Labels               map[string]string // the pod's own labels
	NamespaceLabels      map[string]string
	ServiceAccount       string // empty when unknown
	ServiceAccountLabels map[string]string
}

// EndpointLabels returns the labels policy selectors see on a pod: its own labels,
// projectcalico.org/namespace, projectcalico.org/orchestrator=k8s,
// projectcalico.org/serviceaccount (when known), the namespace's labels prefixed
// "pcns." (with pcns.projectcalico.org/name=<namespace>) and the service account's
// labels prefixed "pcsa." (with pcsa.projectcalico.org/name=<sa>). The synthesized
// labels win over pod labels of the same key. The inputs are not modified.
func EndpointLabels(id EndpointIdentity) map[string]string {
	out := make(map[string]string, len(id.Labels)+len(id.NamespaceLabels)+len(id.ServiceAccountLabels)+5)
	for k, v := range id.Labels {
		out[k] = v
	}
	for k, v := range id.NamespaceLabels {
		out[NamespaceLabelPrefix+k] = v
	}
	out[NamespaceLabelPrefix+LabelName] = id.Namespace
	out[LabelNamespace] = id.Namespace
	out[LabelOrchestrator] = OrchestratorKubernetes
	if id.ServiceAccount != "" {
		for k, v := range id.ServiceAccountLabels {
			out[ServiceAccountLabelPrefix+k] = v
		}
		out[ServiceAccountLabelPrefix+LabelName] = id.ServiceAccount
		out[LabelServiceAccount] = id.ServiceAccount
	}
	return out
}

// NetworkSetLabels returns the labels selectors see on a network set: its own
// labels and, for a namespaced NetworkSet, projectcalico.org/namespace and the
// namespace's labels prefixed "pcns." (with pcns.projectcalico.org/name). A
// GlobalNetworkSet has only its own labels, so namespaced policies (whose rule
// selectors are scoped to a namespace) never match it unless their
// namespaceSelector is global().
func NetworkSetLabels(set *NetworkSet, namespaceLabels map[string]string) map[string]string {
	out := make(map[string]string, len(set.Labels)+len(namespaceLabels)+2)
	for k, v := range set.Labels {
		out[k] = v
	}
	if set.Namespace == "" {
		return out
	}
	for k, v := range namespaceLabels {
		out[NamespaceLabelPrefix+k] = v
	}
	out[NamespaceLabelPrefix+LabelName] = set.Namespace
	out[LabelNamespace] = set.Namespace
	return out
}
