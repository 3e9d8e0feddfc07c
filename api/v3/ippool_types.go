package v3

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kind names, as they appear in `kind:`.
const (
	KindIPPool        = "IPPool"
	KindIPReservation = "IPReservation"
)

// EncapMode says when traffic to a pool's addresses is tunnelled.
// +kubebuilder:validation:Enum=Never;Always;CrossSubnet
type EncapMode string

// IPIP and VXLAN modes.
const (
	EncapNever       EncapMode = "Never"
	EncapAlways      EncapMode = "Always"
	EncapCrossSubnet EncapMode = "CrossSubnet"
)

// IPPoolAllowedUse is a purpose addresses from a pool may be used for.
// +kubebuilder:validation:Enum=Workload;Tunnel;LoadBalancer
type IPPoolAllowedUse string

// Allowed uses.
const (
	AllowedUseWorkload     IPPoolAllowedUse = "Workload"
	AllowedUseTunnel       IPPoolAllowedUse = "Tunnel"
	AllowedUseLoadBalancer IPPoolAllowedUse = "LoadBalancer"
)

// AssignmentMode says whether addresses are handed out without being asked for by pool.
// +kubebuilder:validation:Enum=Automatic;Manual
type AssignmentMode string

// Assignment modes.
const (
	AssignmentAutomatic AssignmentMode = "Automatic"
	AssignmentManual    AssignmentMode = "Manual"
)

// Default block sizes when blockSize is not given.
const (
	DefaultBlockSizeIPv4 = 26
	DefaultBlockSizeIPv6 = 122
)

// IPPool is a range of addresses pods (and tunnels) get their IPs from.
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,path=ippools,singular=ippool
// +kubebuilder:printcolumn:name="CIDR",type=string,JSONPath=`.spec.cidr`
// +kubebuilder:printcolumn:name="Block Size",type=integer,JSONPath=`.spec.blockSize`
// +kubebuilder:printcolumn:name="IPIP Mode",type=string,JSONPath=`.spec.ipipMode`
// +kubebuilder:printcolumn:name="VXLAN Mode",type=string,JSONPath=`.spec.vxlanMode`
// +kubebuilder:printcolumn:name="NAT",type=boolean,JSONPath=`.spec.natOutgoing`
// +kubebuilder:printcolumn:name="Disabled",type=boolean,JSONPath=`.spec.disabled`,priority=1
// +kubebuilder:printcolumn:name="Selector",type=string,JSONPath=`.spec.nodeSelector`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type IPPool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`
	// +kubebuilder:validation:Required
	Spec IPPoolSpec `json:"spec"`
}

// IPPoolSpec describes a pool. Pointers and explicit falses are kept as written, so
// `disabled: false` survives a round trip; use the accessor methods to read them.
// +kubebuilder:validation:XValidation:rule="!has(self.blockSize) || !isCIDR(self.cidr) || (cidr(self.cidr).ip().family() == 4 ? (self.blockSize >= 20 && self.blockSize <= 32) : (self.blockSize >= 116 && self.blockSize <= 128))",message="blockSize must be 20-32 for an IPv4 cidr and 116-128 for an IPv6 cidr",fieldPath=".blockSize"
// +kubebuilder:validation:XValidation:rule="!has(self.blockSize) || !isCIDR(self.cidr) || cidr(self.cidr).prefixLength() <= self.blockSize",message="blockSize must not be smaller than the cidr's prefix length",fieldPath=".blockSize"
// +kubebuilder:validation:XValidation:rule="!(has(self.ipipMode) && self.ipipMode != 'Never' && has(self.vxlanMode) && self.vxlanMode != 'Never')",message="ipipMode and vxlanMode cannot both be enabled",fieldPath=".vxlanMode"
// +kubebuilder:validation:XValidation:rule="!has(self.ipipMode) || self.ipipMode == 'Never' || !isCIDR(self.cidr) || cidr(self.cidr).ip().family() == 4",message="ipipMode must be Never for an IPv6 cidr",fieldPath=".ipipMode"
type IPPoolSpec struct {
	// CIDR of the pool, e.g. 10.244.0.0/16.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="cidr must be a valid IPv4 or IPv6 CIDR such as 10.244.0.0/16"
	CIDR string `json:"cidr"`
	// VXLANMode says when to use VXLAN for traffic to this pool.
	VXLANMode EncapMode `json:"vxlanMode,omitempty"`
	// IPIPMode says when to use IPIP for traffic to this pool.
	IPIPMode EncapMode `json:"ipipMode,omitempty"`
	// NATOutgoing masquerades traffic from the pool to outside all pools.
	NATOutgoing *bool `json:"natOutgoing,omitempty"`
	// Disabled stops new allocations from the pool.
	Disabled *bool `json:"disabled,omitempty"`
	// DisableBGPExport stops the pool's routes being advertised over BGP.
	DisableBGPExport *bool `json:"disableBGPExport,omitempty"`
	// BlockSize is the prefix length of the blocks nodes claim (default 26 / 122).
	// +kubebuilder:validation:Minimum=20
	// +kubebuilder:validation:Maximum=128
	BlockSize int `json:"blockSize,omitempty"`
	// NodeSelector picks the nodes that may allocate from the pool; empty means all().
	NodeSelector string `json:"nodeSelector,omitempty"`
	// AllowedUses of the pool's addresses (default Workload and Tunnel).
	// +kubebuilder:validation:MaxItems=3
	AllowedUses []IPPoolAllowedUse `json:"allowedUses,omitzero"`
	// AssignmentMode: Automatic pools serve any request; Manual only explicit ones.
	AssignmentMode *AssignmentMode `json:"assignmentMode,omitempty"`
	// IPIP is the deprecated v1 form of ipipMode, kept so old data round-trips.
	IPIP *IPIPConfiguration `json:"ipip,omitempty"`
	// NATOutgoingV1 is the deprecated v1 form of natOutgoing.
	NATOutgoingV1 *bool `json:"nat-outgoing,omitempty"`
}

// IPIPConfiguration is the deprecated v1 IPIP setting.
type IPIPConfiguration struct {
	Enabled *bool `json:"enabled,omitempty"`
	// +kubebuilder:validation:Enum=always;cross-subnet;""
	Mode string `json:"mode,omitempty"`
}

// IsDisabled reports whether the pool is disabled.
func (s IPPoolSpec) IsDisabled() bool { return s.Disabled != nil && *s.Disabled }

// NATOutgoingEnabled reports whether outgoing traffic is masqueraded (either field form).
func (s IPPoolSpec) NATOutgoingEnabled() bool {
	return (s.NATOutgoing != nil && *s.NATOutgoing) || (s.NATOutgoingV1 != nil && *s.NATOutgoingV1)
}

// BGPExportDisabled reports whether the pool's routes stay out of BGP.
func (s IPPoolSpec) BGPExportDisabled() bool {
	return s.DisableBGPExport != nil && *s.DisableBGPExport
}

// IPPoolList is a list of IPPool.
// +kubebuilder:object:root=true
type IPPoolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []IPPool `json:"items"`
}

// IPReservation lists addresses IPAM must never hand out.
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,path=ipreservations,singular=ipreservation
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type IPReservation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`
	Spec              IPReservationSpec `json:"spec,omitzero"`
}

// IPReservationSpec lists reserved CIDRs and addresses.
type IPReservationSpec struct {
	// ReservedCIDRs are CIDRs or single addresses.
	// +kubebuilder:validation:MaxItems=10000
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self) || isIP(self)",message="reservedCIDRs entries must be valid CIDRs or IP addresses"
	ReservedCIDRs []string `json:"reservedCIDRs,omitzero"`
}

// IPReservationList is a list of IPReservation.
// +kubebuilder:object:root=true
type IPReservationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []IPReservation `json:"items"`
}
