// Package datastore defines the event stream the calculation graph consumes and the
// interface its sources implement.
//
// In: objects from a source (the Kubernetes API in package datastore/k8s, a directory
// of manifests in package datastore/file). Out: Events on a channel, each a batch of
// Updates (an object created or changed, or a key deleted), errors the source wants
// reported (a malformed file, a watch that failed), or the one-time InSync mark that
// says the initial snapshot is complete.
//
// Objects are the typed Go values of package resource: core/v1 Pod, Namespace,
// ServiceAccount and Node, networking.k8s.io/v1 NetworkPolicy and the api/v3 kinds.
// A Key names an object by kind, namespace and name; the kind distinguishes the
// Kubernetes NetworkPolicy from the Calico one.
package datastore

import (
	"context"
	"fmt"

	v3 "github.com/palisadenet/palisade/api/v3"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// Kind names an object type in a Key.
type Kind string

// The kinds the graph understands. Sources may emit other kinds (IPPool, BGPPeer...);
// consumers ignore what they do not use.
const (
	KindPod                     Kind = "Pod"
	KindNamespace               Kind = "Namespace"
	KindServiceAccount          Kind = "ServiceAccount"
	KindNode                    Kind = "Node"
	KindKubernetesNetworkPolicy Kind = "networking.k8s.io/NetworkPolicy"
	KindNetworkPolicy           Kind = "NetworkPolicy" // projectcalico.org/v3
	KindGlobalNetworkPolicy     Kind = "GlobalNetworkPolicy"
	KindTier                    Kind = "Tier"
	KindNetworkSet              Kind = "NetworkSet"
	KindGlobalNetworkSet        Kind = "GlobalNetworkSet"
	KindFelixConfiguration      Kind = "FelixConfiguration"
	KindHostEndpoint            Kind = "HostEndpoint"
)

// Key identifies one object. Namespace is empty for cluster-scoped kinds.
type Key struct {
	Kind      Kind
	Namespace string
	Name      string
}

func (k Key) String() string {
	if k.Namespace == "" {
		return string(k.Kind) + " " + k.Name
	}
	return string(k.Kind) + " " + k.Namespace + "/" + k.Name
}

// Update is one change: Object set means created or replaced, nil means deleted.
type Update struct {
	Key    Key
	Object runtime.Object
}

// Event is what a Datastore sends. Updates within one Event form a batch the graph
// applies together; InSync is sent once, after the Updates of the initial snapshot.
// Errors are problems the source found in its input; the objects they concern keep
// their previous valid state.
type Event struct {
	Updates []Update
	Errors  []error
	InSync  bool
}

// Datastore is a source of Events. Run sends Events on out until ctx is cancelled or
// the source fails for good, and returns the reason (ctx.Err() on cancellation). Run
// must not close out.
type Datastore interface {
	Run(ctx context.Context, out chan<- Event) error
}

// KindOf returns the Kind of a typed object, or an error for a type the graph does
// not know (the caller decides whether to pass it on).
func KindOf(obj runtime.Object) (Kind, error) {
	switch obj.(type) {
	case *corev1.Pod:
		return KindPod, nil
	case *corev1.Namespace:
		return KindNamespace, nil
	case *corev1.ServiceAccount:
		return KindServiceAccount, nil
	case *corev1.Node:
		return KindNode, nil
	case *networkingv1.NetworkPolicy:
		return KindKubernetesNetworkPolicy, nil
	case *v3.NetworkPolicy:
		return KindNetworkPolicy, nil
	case *v3.GlobalNetworkPolicy:
		return KindGlobalNetworkPolicy, nil
	case *v3.Tier:
		return KindTier, nil
	case *v3.NetworkSet:
		return KindNetworkSet, nil
	case *v3.GlobalNetworkSet:
		return KindGlobalNetworkSet, nil
	case *v3.FelixConfiguration:
		return KindFelixConfiguration, nil
	case *v3.HostEndpoint:
		return KindHostEndpoint, nil
	}
	if obj == nil {
		return "", fmt.Errorf("nil object")
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Kind != "" {
		return Kind(gvk.Kind), nil
	}
	return "", fmt.Errorf("object of unknown type %T", obj)
}

// KeyOf builds the Key of a typed object from its kind and metadata.
func KeyOf(obj runtime.Object) (Key, error) {
	kind, err := KindOf(obj)
	if err != nil {
		return Key{}, err
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return Key{}, fmt.Errorf("reading metadata of %s: %w", kind, err)
	}
	return Key{Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName()}, nil
}

// UpdateOf returns the Update that sets obj.
func UpdateOf(obj runtime.Object) (Update, error) {
	k, err := KeyOf(obj)
	if err != nil {
		return Update{}, err
	}
	return Update{Key: k, Object: obj}, nil
}
