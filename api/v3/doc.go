// Package v3 holds the Go types of Calico's projectcalico.org/v3 API as Palisade reads and
// writes it: policies, tiers, network sets, host endpoints, IP pools and reservations, BGP
// peers and configuration, Felix configuration, cluster information and the IPAM records.
//
// In: YAML or JSON written by users or stored by Calico, in projectcalico.org/v3 or in the
// legacy crd.projectcalico.org/v1 group (same spec shape; see FromLegacy).
// Out: typed objects that re-encode to the same content (numbers stay numbers, "80" stays
// a string, explicit false and empty lists are kept), plus the CRD schemas that
// controller-gen derives from the markers here (make generate).
//
// +kubebuilder:object:generate=true
// +kubebuilder:validation:Optional
// +groupName=projectcalico.org
package v3
