package v3

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of the user-facing Calico API.
const GroupName = "projectcalico.org"

// LegacyGroupName is the CRD group in which clusters that ran Calico store the same data.
const LegacyGroupName = "crd.projectcalico.org"

var (
	// SchemeGroupVersion is projectcalico.org/v3.
	SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v3"}
	// LegacyGroupVersion is crd.projectcalico.org/v1.
	LegacyGroupVersion = schema.GroupVersion{Group: LegacyGroupName, Version: "v1"}

	// SchemeBuilder registers the v3 kinds.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the projectcalico.org/v3 kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme

	// LegacySchemeBuilder registers the same Go types under crd.projectcalico.org/v1.
	LegacySchemeBuilder = runtime.NewSchemeBuilder(addLegacyTypes)
	// AddLegacyToScheme adds the crd.projectcalico.org/v1 kinds to a scheme.
	AddLegacyToScheme = LegacySchemeBuilder.AddToScheme
)

// Resource returns a GroupResource in projectcalico.org.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

// AllKinds returns one empty object of every kind, keyed by kind name.
func AllKinds() map[string]runtime.Object {
	return map[string]runtime.Object{
		KindNetworkPolicy:       &NetworkPolicy{},
		KindGlobalNetworkPolicy: &GlobalNetworkPolicy{},
		KindTier:                &Tier{},
		KindNetworkSet:          &NetworkSet{},
		KindGlobalNetworkSet:    &GlobalNetworkSet{},
		KindHostEndpoint:        &HostEndpoint{},
		KindIPPool:              &IPPool{},
		KindIPReservation:       &IPReservation{},
		KindBGPPeer:             &BGPPeer{},
		KindBGPConfiguration:    &BGPConfiguration{},
		KindFelixConfiguration:  &FelixConfiguration{},
		KindClusterInformation:  &ClusterInformation{},
		KindIPAMBlock:           &IPAMBlock{},
		KindBlockAffinity:       &BlockAffinity{},
		KindIPAMHandle:          &IPAMHandle{},
	}
}

func allObjects() []runtime.Object {
	return []runtime.Object{
		&NetworkPolicy{}, &NetworkPolicyList{},
		&GlobalNetworkPolicy{}, &GlobalNetworkPolicyList{},
		&Tier{}, &TierList{},
		&NetworkSet{}, &NetworkSetList{},
		&GlobalNetworkSet{}, &GlobalNetworkSetList{},
		&HostEndpoint{}, &HostEndpointList{},
		&IPPool{}, &IPPoolList{},
		&IPReservation{}, &IPReservationList{},
		&BGPPeer{}, &BGPPeerList{},
		&BGPConfiguration{}, &BGPConfigurationList{},
		&FelixConfiguration{}, &FelixConfigurationList{},
		&ClusterInformation{}, &ClusterInformationList{},
		&IPAMBlock{}, &IPAMBlockList{},
		&BlockAffinity{}, &BlockAffinityList{},
		&IPAMHandle{}, &IPAMHandleList{},
	}
}

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion, allObjects()...)
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}

func addLegacyTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(LegacyGroupVersion, allObjects()...)
	metav1.AddToGroupVersion(scheme, LegacyGroupVersion)
	return nil
}
