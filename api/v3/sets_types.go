package v3

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kind names, as they appear in `kind:`.
const (
	KindTier             = "Tier"
	KindNetworkSet       = "NetworkSet"
	KindGlobalNetworkSet = "GlobalNetworkSet"
	KindHostEndpoint     = "HostEndpoint"
)

// Tier groups policies; tiers are evaluated in their own order and Pass jumps to the next.
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,path=tiers,singular=tier
// +kubebuilder:printcolumn:name="Order",type=number,JSONPath=`.spec.order`
// +kubebuilder:printcolumn:name="Default Action",type=string,JSONPath=`.spec.defaultAction`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Tier struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`
	Spec              TierSpec `json:"spec,omitzero"`
}

// TierSpec orders a tier and says what happens when none of its policies decides.
type TierSpec struct {
	// Order: lower goes first; unset sorts last.
	Order *float64 `json:"order,omitempty"`
	// DefaultAction applies to endpoints a tier's policies select but do not decide.
	// +kubebuilder:validation:XValidation:rule="self in ['Deny', 'Pass']",message="defaultAction must be Deny or Pass"
	DefaultAction *Action `json:"defaultAction,omitempty"`
}

// TierList is a list of Tier.
// +kubebuilder:object:root=true
type TierList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Tier `json:"items"`
}

// NetworkSet is a labelled, namespaced set of CIDRs that selectors can match.
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,path=networksets,singular=networkset
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type NetworkSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`
	Spec              NetworkSetSpec `json:"spec,omitzero"`
}

// NetworkSetSpec lists the set's networks.
type NetworkSetSpec struct {
	// Nets are CIDRs or single IP addresses.
	// +kubebuilder:validation:MaxItems=10000
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self) || isIP(self)",message="nets entries must be valid CIDRs or IP addresses"
	Nets []string `json:"nets,omitzero"`
}

// NetworkSetList is a list of NetworkSet.
// +kubebuilder:object:root=true
type NetworkSetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []NetworkSet `json:"items"`
}

// GlobalNetworkSet is a labelled, cluster-wide set of CIDRs that selectors can match.
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,path=globalnetworksets,singular=globalnetworkset
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type GlobalNetworkSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`
	Spec              GlobalNetworkSetSpec `json:"spec,omitzero"`
}

// GlobalNetworkSetSpec lists the set's networks.
type GlobalNetworkSetSpec struct {
	// Nets are CIDRs or single IP addresses.
	// +kubebuilder:validation:MaxItems=10000
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self) || isIP(self)",message="nets entries must be valid CIDRs or IP addresses"
	Nets []string `json:"nets,omitzero"`
}

// GlobalNetworkSetList is a list of GlobalNetworkSet.
// +kubebuilder:object:root=true
type GlobalNetworkSetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []GlobalNetworkSet `json:"items"`
}

// HostEndpoint is one of a host's own interfaces (or all of them, interfaceName "*"),
// which policies can protect like a pod.
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,path=hostendpoints,singular=hostendpoint,shortName=hep;heps
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.spec.node`
// +kubebuilder:printcolumn:name="Interface",type=string,JSONPath=`.spec.interfaceName`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type HostEndpoint struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`
	Spec              HostEndpointSpec `json:"spec,omitzero"`
}

// HostEndpointSpec names the node and interface (or expected IPs) of a host endpoint.
// +kubebuilder:validation:XValidation:rule="(has(self.interfaceName) && size(self.interfaceName) > 0) || (has(self.expectedIPs) && size(self.expectedIPs) > 0)",message="interfaceName or expectedIPs must be set"
type HostEndpointSpec struct {
	// Node is the name of the node the interface is on.
	Node string `json:"node,omitempty"`
	// InterfaceName is the interface name, or "*" for all of the host's interfaces.
	InterfaceName string `json:"interfaceName,omitempty"`
	// ExpectedIPs are the interface's addresses, used by selectors in other policies.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:XValidation:rule="isIP(self)",message="expectedIPs entries must be IP addresses"
	ExpectedIPs []string `json:"expectedIPs,omitzero"`
	// Profiles apply to the endpoint after its policies.
	// +kubebuilder:validation:MaxItems=64
	Profiles []string `json:"profiles,omitzero"`
	// Ports are named ports on the endpoint.
	// +kubebuilder:validation:MaxItems=256
	Ports []EndpointPort `json:"ports,omitzero"`
}

// EndpointPort is a named port on an endpoint.
type EndpointPort struct {
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// +kubebuilder:validation:Required
	Protocol Protocol `json:"protocol"`
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port uint16 `json:"port"`
}

// HostEndpointList is a list of HostEndpoint.
// +kubebuilder:object:root=true
type HostEndpointList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []HostEndpoint `json:"items"`
}
