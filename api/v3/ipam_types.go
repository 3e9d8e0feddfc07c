package v3

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kind names, as they appear in `kind:`.
const (
	KindClusterInformation = "ClusterInformation"
	KindIPAMBlock          = "IPAMBlock"
	KindBlockAffinity      = "BlockAffinity"
	KindIPAMHandle         = "IPAMHandle"
)

// ClusterInformation is the cluster-wide record (name "default") of the cluster's identity
// and whether the datastore is ready for agents.
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,path=clusterinformations,singular=clusterinformation
// +kubebuilder:printcolumn:name="Ready",type=boolean,JSONPath=`.spec.datastoreReady`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.calicoVersion`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterInformation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`
	Spec              ClusterInformationSpec `json:"spec,omitzero"`
}

// ClusterInformationSpec holds the cluster's identity.
type ClusterInformationSpec struct {
	ClusterGUID    string `json:"clusterGUID,omitempty"`
	ClusterType    string `json:"clusterType,omitempty"`
	CalicoVersion  string `json:"calicoVersion,omitempty"`
	DatastoreReady *bool  `json:"datastoreReady,omitempty"`
	Variant        string `json:"variant,omitempty"`
}

// ClusterInformationList is a list of ClusterInformation.
// +kubebuilder:object:root=true
type ClusterInformationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []ClusterInformation `json:"items"`
}

// IPAMBlock is one block of a pool and who holds each of its addresses. The layout is
// Calico's, so a cluster's existing blocks are read as they are: allocations[i] is the
// index into attributes of the holder of ordinal i (null when free), unallocated lists the
// free ordinals in the order they will be handed out.
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,path=ipamblocks,singular=ipamblock
// +kubebuilder:printcolumn:name="CIDR",type=string,JSONPath=`.spec.cidr`
// +kubebuilder:printcolumn:name="Affinity",type=string,JSONPath=`.spec.affinity`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type IPAMBlock struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`
	Spec              IPAMBlockSpec `json:"spec,omitzero"`
}

// IPAMBlockSpec is the block's allocation state.
type IPAMBlockSpec struct {
	// CIDR of the block.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="cidr must be a valid CIDR"
	CIDR string `json:"cidr"`
	// Affinity is "host:<node>" for the node that owns the block, or unset.
	Affinity *string `json:"affinity,omitempty"`
	// AffinityClaimTime is when the affinity was claimed.
	AffinityClaimTime *metav1.Time `json:"affinityClaimTime,omitempty"`
	// StrictAffinity forbids borrowing from the block.
	// +kubebuilder:validation:Required
	StrictAffinity bool `json:"strictAffinity"`
	// Allocations has one entry per address: an index into Attributes, or null if free.
	// +kubebuilder:validation:Required
	// hack/crdgen marks the items nullable (controller-gen has no marker for that).
	Allocations []*int `json:"allocations"`
	// Unallocated lists the free ordinals.
	// +kubebuilder:validation:Required
	Unallocated []int `json:"unallocated"`
	// Attributes describe the holders (handle and metadata).
	// +kubebuilder:validation:Required
	Attributes []AllocationAttribute `json:"attributes"`
	// SequenceNumber increases on every write; used to detect stale caches.
	// +kubebuilder:default=0
	SequenceNumber uint64 `json:"sequenceNumber"`
	// SequenceNumberForAllocation records the sequence number at which an ordinal was
	// allocated, keyed by ordinal.
	SequenceNumberForAllocation map[string]uint64 `json:"sequenceNumberForAllocation,omitzero"`
	// Deleted marks a block being removed; no new allocations may use it.
	// +kubebuilder:validation:Required
	Deleted bool `json:"deleted"`
}

// AllocationAttribute names the holder of one or more allocations.
type AllocationAttribute struct {
	// HandleID is the allocation handle, e.g. "k8s-pod-network.<containerID>".
	HandleID *string `json:"handle_id,omitempty"`
	// Secondary holds free-form data (namespace, pod, node, type).
	Secondary map[string]string `json:"secondary,omitzero"`
	// ReleasedAt is set while the address is being released.
	ReleasedAt *metav1.Time `json:"releasedAt,omitempty"`
}

// IPAMBlockList is a list of IPAMBlock.
// +kubebuilder:object:root=true
type IPAMBlockList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []IPAMBlock `json:"items"`
}

// BlockAffinity records that a node holds a block.
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,path=blockaffinities,singular=blockaffinity
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.spec.node`
// +kubebuilder:printcolumn:name="CIDR",type=string,JSONPath=`.spec.cidr`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.spec.state`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BlockAffinity struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`
	Spec              BlockAffinitySpec `json:"spec,omitzero"`
}

// BlockAffinity states.
const (
	BlockAffinityConfirmed       = "confirmed"
	BlockAffinityPending         = "pending"
	BlockAffinityPendingDeletion = "pendingDeletion"
)

// BlockAffinitySpec ties a block to a node.
type BlockAffinitySpec struct {
	// State: confirmed, pending or pendingDeletion.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Enum=confirmed;pending;pendingDeletion
	State string `json:"state"`
	// Node holding the block.
	// +kubebuilder:validation:Required
	Node string `json:"node"`
	// Type of the affinity ("host", or empty for host).
	Type string `json:"type,omitempty"`
	// CIDR of the block.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="cidr must be a valid CIDR"
	CIDR string `json:"cidr"`
	// Deleted is "true" while the affinity is being removed. It is a string because
	// Calico stores it as one.
	// +kubebuilder:validation:Enum="true";"false"
	Deleted string `json:"deleted,omitempty"`
}

// BlockAffinityList is a list of BlockAffinity.
// +kubebuilder:object:root=true
type BlockAffinityList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []BlockAffinity `json:"items"`
}

// IPAMHandle counts, per block, the addresses one handle holds, so release is exact.
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,path=ipamhandles,singular=ipamhandle
// +kubebuilder:printcolumn:name="Handle",type=string,JSONPath=`.spec.handleID`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type IPAMHandle struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`
	Spec              IPAMHandleSpec `json:"spec,omitzero"`
}

// IPAMHandleSpec maps block CIDRs (e.g. "10.244.1.0/26") to the number of addresses
// the handle holds there.
type IPAMHandleSpec struct {
	// +kubebuilder:validation:Required
	HandleID string `json:"handleID"`
	// +kubebuilder:validation:Required
	Block map[string]int `json:"block"`
	// Deleted marks a handle being removed.
	Deleted bool `json:"deleted,omitempty"`
}

// IPAMHandleList is a list of IPAMHandle.
// +kubebuilder:object:root=true
type IPAMHandleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []IPAMHandle `json:"items"`
}
