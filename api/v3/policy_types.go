package v3

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kind names, as they appear in `kind:`.
const (
	KindNetworkPolicy       = "NetworkPolicy"
	KindGlobalNetworkPolicy = "GlobalNetworkPolicy"
)

// Action is what a rule does with a packet it matches.
// +kubebuilder:validation:Enum=Allow;Deny;Log;Pass
type Action string

// The rule actions.
const (
	Allow Action = "Allow"
	Deny  Action = "Deny"
	Log   Action = "Log"
	Pass  Action = "Pass"
)

// PolicyType is a direction a policy applies to.
// +kubebuilder:validation:Enum=Ingress;Egress
type PolicyType string

// The policy directions.
const (
	PolicyTypeIngress PolicyType = "Ingress"
	PolicyTypeEgress  PolicyType = "Egress"
)

// PolicyPerformanceHint is an optimisation hint a policy may carry.
// +kubebuilder:validation:Enum=AssumeNeededOnEveryNode
type PolicyPerformanceHint string

// PerfHintAssumeNeededOnEveryNode tells the agent to program the policy everywhere eagerly.
const PerfHintAssumeNeededOnEveryNode PolicyPerformanceHint = "AssumeNeededOnEveryNode"

// NetworkPolicy is a namespaced Calico policy.
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,path=networkpolicies,singular=networkpolicy,shortName=cnp;caliconetworkpolicy;caliconetworkpolicies
// +kubebuilder:printcolumn:name="Tier",type=string,JSONPath=`.spec.tier`
// +kubebuilder:printcolumn:name="Order",type=number,JSONPath=`.spec.order`
// +kubebuilder:printcolumn:name="Selector",type=string,JSONPath=`.spec.selector`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type NetworkPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`
	// +kubebuilder:validation:Required
	Spec NetworkPolicySpec `json:"spec"`
}

// NetworkPolicySpec selects endpoints in the policy's namespace and lists the rules that
// apply to their traffic.
type NetworkPolicySpec struct {
	// Tier is the tier the policy belongs to; empty means "default".
	// +kubebuilder:validation:MaxLength=253
	Tier string `json:"tier,omitempty"`
	// Order: lower goes first; unset sorts last.
	Order *float64 `json:"order,omitempty"`
	// Ingress rules, evaluated in order.
	// +kubebuilder:validation:MaxItems=500
	Ingress []Rule `json:"ingress,omitzero"`
	// Egress rules, evaluated in order.
	// +kubebuilder:validation:MaxItems=500
	Egress []Rule `json:"egress,omitzero"`
	// Selector picks the endpoints the policy applies to; empty means all().
	Selector string `json:"selector,omitempty"`
	// Types lists the directions the policy applies to; when absent it follows from which
	// rule lists are present.
	// +kubebuilder:validation:MaxItems=2
	Types []PolicyType `json:"types,omitzero"`
	// ServiceAccountSelector narrows the policy to endpoints whose service account matches.
	ServiceAccountSelector string `json:"serviceAccountSelector,omitempty"`
	// PerformanceHints are optimisation hints.
	// +kubebuilder:validation:MaxItems=8
	PerformanceHints []PolicyPerformanceHint `json:"performanceHints,omitzero"`
}

// NetworkPolicyList is a list of NetworkPolicy.
// +kubebuilder:object:root=true
type NetworkPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []NetworkPolicy `json:"items"`
}

// GlobalNetworkPolicy is a cluster-wide Calico policy.
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,path=globalnetworkpolicies,singular=globalnetworkpolicy,shortName=gnp;cgnp;calicoglobalnetworkpolicies
// +kubebuilder:printcolumn:name="Tier",type=string,JSONPath=`.spec.tier`
// +kubebuilder:printcolumn:name="Order",type=number,JSONPath=`.spec.order`
// +kubebuilder:printcolumn:name="Selector",type=string,JSONPath=`.spec.selector`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type GlobalNetworkPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`
	// +kubebuilder:validation:Required
	Spec GlobalNetworkPolicySpec `json:"spec"`
}

// GlobalNetworkPolicySpec is NetworkPolicySpec plus the fields that only make sense
// cluster-wide (host endpoint options and a namespace selector).
// +kubebuilder:validation:XValidation:rule="!(has(self.doNotTrack) && self.doNotTrack && has(self.preDNAT) && self.preDNAT)",message="doNotTrack and preDNAT cannot both be true",fieldPath=".preDNAT"
// +kubebuilder:validation:XValidation:rule="!has(self.preDNAT) || !self.preDNAT || !has(self.egress) || size(self.egress) == 0",message="preDNAT policy cannot have egress rules",fieldPath=".egress"
type GlobalNetworkPolicySpec struct {
	// Tier is the tier the policy belongs to; empty means "default".
	// +kubebuilder:validation:MaxLength=253
	Tier string `json:"tier,omitempty"`
	// Order: lower goes first; unset sorts last.
	Order *float64 `json:"order,omitempty"`
	// Ingress rules, evaluated in order.
	// +kubebuilder:validation:MaxItems=500
	Ingress []Rule `json:"ingress,omitzero"`
	// Egress rules, evaluated in order.
	// +kubebuilder:validation:MaxItems=500
	Egress []Rule `json:"egress,omitzero"`
	// Selector picks the endpoints the policy applies to; empty means all().
	Selector string `json:"selector,omitempty"`
	// Types lists the directions the policy applies to.
	// +kubebuilder:validation:MaxItems=2
	Types []PolicyType `json:"types,omitzero"`
	// DoNotTrack applies the rules before connection tracking (host endpoints only).
	DoNotTrack *bool `json:"doNotTrack,omitempty"`
	// PreDNAT applies the rules before DNAT (host endpoints only, ingress only).
	PreDNAT *bool `json:"preDNAT,omitempty"`
	// ApplyOnForward applies the rules to forwarded traffic through host endpoints too.
	ApplyOnForward *bool `json:"applyOnForward,omitempty"`
	// ServiceAccountSelector narrows the policy to endpoints whose service account matches.
	ServiceAccountSelector string `json:"serviceAccountSelector,omitempty"`
	// NamespaceSelector narrows the policy to endpoints in matching namespaces.
	NamespaceSelector string `json:"namespaceSelector,omitempty"`
	// PerformanceHints are optimisation hints.
	// +kubebuilder:validation:MaxItems=8
	PerformanceHints []PolicyPerformanceHint `json:"performanceHints,omitzero"`
}

// GlobalNetworkPolicyList is a list of GlobalNetworkPolicy.
// +kubebuilder:object:root=true
type GlobalNetworkPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []GlobalNetworkPolicy `json:"items"`
}

// Rule matches packets and says what to do with them. All given match criteria must hold.
// Cross-field checks that need the protocol's value (icmp needs ICMP, ports need
// TCP/UDP/SCTP) are left to the policy validator: see numorstring.go for why the schema
// cannot afford CEL on int-or-string values.
type Rule struct {
	// Action taken when the rule matches.
	// +kubebuilder:validation:Required
	Action Action `json:"action"`
	// IPVersion restricts the rule to IPv4 (4) or IPv6 (6).
	// +kubebuilder:validation:Enum=4;6
	IPVersion *int `json:"ipVersion,omitempty"`
	// Protocol the packet must have.
	Protocol *Protocol `json:"protocol,omitempty"`
	// ICMP type and code the packet must have.
	ICMP *ICMPFields `json:"icmp,omitempty"`
	// NotProtocol is a protocol the packet must not have.
	NotProtocol *Protocol `json:"notProtocol,omitempty"`
	// NotICMP is an ICMP type/code the packet must not have.
	NotICMP *ICMPFields `json:"notICMP,omitempty"`
	// Source the packet must come from.
	Source EntityRule `json:"source,omitzero"`
	// Destination the packet must go to.
	Destination EntityRule `json:"destination,omitzero"`
	// HTTP match criteria (kept for compatibility; enforced only by an L7 proxy).
	HTTP *HTTPMatch `json:"http,omitempty"`
	// Metadata carries the rule's annotations; kept, not enforced.
	Metadata *RuleMetadata `json:"metadata,omitempty"`
}

// RuleMetadata is free-form data attached to a rule.
type RuleMetadata struct {
	// Annotations are arbitrary key/value pairs.
	Annotations map[string]string `json:"annotations,omitzero"`
}

// ICMPFields matches an ICMP type and optionally a code.
// +kubebuilder:validation:XValidation:rule="!has(self.code) || has(self.type)",message="icmp code needs a type",fieldPath=".code"
type ICMPFields struct {
	// Type is the ICMP type (0-254).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=254
	Type *int `json:"type,omitempty"`
	// Code is the ICMP code (0-255); needs Type.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=255
	Code *int `json:"code,omitempty"`
}

// EntityRule matches one end of a connection. All given criteria must hold.
type EntityRule struct {
	// Nets the address must be in (CIDRs or single IPs).
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self) || isIP(self)",message="nets entries must be valid CIDRs or IP addresses"
	Nets []string `json:"nets,omitzero"`
	// Selector the endpoint's labels must match.
	Selector string `json:"selector,omitempty"`
	// NamespaceSelector the endpoint's namespace labels must match.
	NamespaceSelector string `json:"namespaceSelector,omitempty"`
	// Services matches the endpoints of a Kubernetes Service.
	Services *ServiceMatch `json:"services,omitempty"`
	// Ports the packet must use: numbers, "min:max" ranges or named ports.
	// +kubebuilder:validation:MaxItems=64
	Ports []Port `json:"ports,omitzero"`
	// NotNets the address must not be in.
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self) || isIP(self)",message="notNets entries must be valid CIDRs or IP addresses"
	NotNets []string `json:"notNets,omitzero"`
	// NotSelector the endpoint's labels must not match.
	NotSelector string `json:"notSelector,omitempty"`
	// NotPorts the packet must not use.
	// +kubebuilder:validation:MaxItems=64
	NotPorts []Port `json:"notPorts,omitzero"`
	// ServiceAccounts matches endpoints by service account.
	ServiceAccounts *ServiceAccountMatch `json:"serviceAccounts,omitempty"`
}

// ServiceAccountMatch matches endpoints by service account name and/or labels.
type ServiceAccountMatch struct {
	// Names of service accounts, any of which matches.
	// +kubebuilder:validation:MaxItems=256
	Names []string `json:"names,omitzero"`
	// Selector on the service account's labels.
	Selector string `json:"selector,omitempty"`
}

// ServiceMatch names a Kubernetes Service.
type ServiceMatch struct {
	// Name of the Service.
	Name string `json:"name,omitempty"`
	// Namespace of the Service; defaults to the policy's namespace.
	Namespace string `json:"namespace,omitempty"`
}

// HTTPMatch is an L7 match (methods and paths).
type HTTPMatch struct {
	// Methods, any of which matches.
	// +kubebuilder:validation:MaxItems=16
	Methods []string `json:"methods,omitzero"`
	// Paths, any of which matches.
	// +kubebuilder:validation:MaxItems=256
	Paths []HTTPPath `json:"paths,omitzero"`
}

// HTTPPath matches a request path exactly or by prefix.
type HTTPPath struct {
	Exact  string `json:"exact,omitempty"`
	Prefix string `json:"prefix,omitempty"`
}
