// Package client is palisadectl's access to a datastore: one interface, Client, with
// two backends, the Kubernetes API (kube.go: a dynamic client over projectcalico.org/v3,
// or crd.projectcalico.org/v1 when only that group is served) and a directory of
// manifests (file.go: the directory package calc/datastore/file watches).
//
// In: a Config (config.go: a CalicoAPIConfig file, or the DATASTORE_TYPE, DATASTORE_DIR
// and KUBECONFIG environment), then typed api/v3 objects to write and kind/namespace/name
// keys to read. Out: typed api/v3 objects (apiVersion projectcalico.org/v3 whatever the
// group they are stored in), ErrNotFound / ErrAlreadyExists wrapped with the key, the
// cluster's version, and every object the policy evaluator needs (PolicyObjects).
//
// Validation (validate.go) checks objects with the same CRD schemas and CEL rules the
// Kubernetes API server applies, so that the file backend refuses what the API server
// would; callers validate every object of an invocation before writing any.
package client

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/manifests/crds"
	"github.com/palisadenet/palisade/resource"
)

// Errors the backends wrap (test with errors.Is).
var (
	ErrNotFound      = errors.New("resource does not exist")
	ErrAlreadyExists = errors.New("resource already exists")
	ErrConflict      = errors.New("resource was modified since it was read")
)

// Client reads and writes projectcalico.org/v3 objects in one datastore. Objects are
// pointers to api/v3 types (v3.IPPool...). Namespace is ignored for cluster-scoped kinds.
type Client interface {
	// Get returns one object, or an error wrapping ErrNotFound.
	Get(ctx context.Context, kind *Kind, namespace, name string) (runtime.Object, error)
	// List returns the objects of a kind sorted by namespace and name; namespace ""
	// lists every namespace.
	List(ctx context.Context, kind *Kind, namespace string) ([]runtime.Object, error)
	// Create stores a new object (ErrAlreadyExists when the key is taken) and returns
	// it as stored.
	Create(ctx context.Context, obj runtime.Object) (runtime.Object, error)
	// Update replaces an existing object (ErrNotFound when missing). A non-empty
	// resourceVersion must match the stored one (ErrConflict otherwise).
	Update(ctx context.Context, obj runtime.Object) (runtime.Object, error)
	// Delete removes an object and returns what was stored.
	Delete(ctx context.Context, kind *Kind, namespace, name string) (runtime.Object, error)
	// PolicyObjects returns what `policy trace|matrix` evaluate: Namespaces, Pods,
	// ServiceAccounts, Kubernetes NetworkPolicies and the Calico policy kinds.
	PolicyObjects(ctx context.Context) ([]resource.Object, error)
	// ClusterInfo describes the datastore for `version`.
	ClusterInfo(ctx context.Context) (ClusterInfo, error)
	// Warnings are problems the backend noticed but worked around (a manifest that
	// does not decode, say); the CLI prints them to stderr.
	Warnings() []string
}

// ClusterInfo is what `version` prints about the datastore.
type ClusterInfo struct {
	// CalicoVersion is ClusterInformation default's spec.calicoVersion ("" if unknown).
	CalicoVersion string
	// ClusterType is ClusterInformation default's spec.clusterType.
	ClusterType string
	// Datastore describes the backend ("kubernetes (projectcalico.org/v3)", "file /dir").
	Datastore string
	// KubernetesVersion is the API server's version (kubernetes backend only).
	KubernetesVersion string
}

// Kind describes one projectcalico.org/v3 kind, from its CRD.
type Kind struct {
	Kind       string   // IPPool
	Plural     string   // ippools
	Singular   string   // ippool
	ShortNames []string // from the CRD
	Namespaced bool
}

// New returns an empty object of the kind, apiVersion and kind set.
func (k *Kind) New() runtime.Object {
	obj := v3.New(k.Kind)
	obj.GetObjectKind().SetGroupVersionKind(v3.SchemeGroupVersion.WithKind(k.Kind))
	return obj
}

var (
	kindsOnce sync.Once
	kindsList []*Kind
	kindsErr  error
)

// Kinds returns every projectcalico.org/v3 kind, sorted by name.
func Kinds() ([]*Kind, error) {
	kindsOnce.Do(func() {
		list, err := crds.Load(crds.SetV3)
		if err != nil {
			kindsErr = fmt.Errorf("loading the embedded CRDs: %w", err)
			return
		}
		for _, crd := range list {
			n := crd.Spec.Names
			if v3.New(n.Kind) == nil {
				continue
			}
			kindsList = append(kindsList, &Kind{
				Kind: n.Kind, Plural: n.Plural, Singular: n.Singular, ShortNames: n.ShortNames,
				Namespaced: crd.Spec.Scope == "Namespaced",
			})
		}
		sort.Slice(kindsList, func(i, j int) bool { return kindsList[i].Kind < kindsList[j].Kind })
	})
	return kindsList, kindsErr
}

// aliases are calicoctl's extra names for kinds.
var aliases = map[string]string{
	"policy": v3.KindNetworkPolicy, "policies": v3.KindNetworkPolicy, "np": v3.KindNetworkPolicy,
	"gnp": v3.KindGlobalNetworkPolicy, "globalpolicy": v3.KindGlobalNetworkPolicy, "globalpolicies": v3.KindGlobalNetworkPolicy,
	"pool": v3.KindIPPool, "pools": v3.KindIPPool,
	"hep": v3.KindHostEndpoint, "heps": v3.KindHostEndpoint,
	"netset": v3.KindNetworkSet, "netsets": v3.KindNetworkSet,
	"globalnetset": v3.KindGlobalNetworkSet, "globalnetsets": v3.KindGlobalNetworkSet,
	"peer": v3.KindBGPPeer, "peers": v3.KindBGPPeer,
	"bgpconfig": v3.KindBGPConfiguration, "bgpconfigs": v3.KindBGPConfiguration,
	"felixconfig": v3.KindFelixConfiguration, "felixconfigs": v3.KindFelixConfiguration,
	"clusterinfo": v3.KindClusterInformation,
}

// LookupKind finds a kind by its name, plural, singular, short name or calicoctl alias,
// case-insensitively; "ippool.projectcalico.org" and "ippools.crd.projectcalico.org"
// are accepted too.
func LookupKind(name string) (*Kind, error) {
	kinds, err := Kinds()
	if err != nil {
		return nil, err
	}
	want := strings.ToLower(name)
	for _, suffix := range []string{"." + v3.LegacyGroupName, "." + v3.GroupName} {
		want = strings.TrimSuffix(want, suffix)
	}
	if alias, ok := aliases[want]; ok && alias != "" {
		want = strings.ToLower(alias)
	}
	for _, k := range kinds {
		if want == strings.ToLower(k.Kind) || want == k.Plural || want == k.Singular {
			return k, nil
		}
		for _, s := range k.ShortNames {
			if want == s {
				return k, nil
			}
		}
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Singular
	}
	return nil, fmt.Errorf("unknown resource type %q (want one of: %s)", name, strings.Join(names, ", "))
}

// KindOf returns the Kind of a typed api/v3 object.
func KindOf(obj runtime.Object) (*Kind, error) {
	name := obj.GetObjectKind().GroupVersionKind().Kind
	if name == "" {
		if k := kindFromType(obj); k != "" {
			name = k
		}
	}
	kinds, err := Kinds()
	if err != nil {
		return nil, err
	}
	for _, k := range kinds {
		if k.Kind == name {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%q is not a %s kind", name, v3.SchemeGroupVersion)
}

// kindFromType finds the kind name from the Go type when TypeMeta is empty.
func kindFromType(obj runtime.Object) string {
	for name, sample := range v3.AllKinds() {
		if fmt.Sprintf("%T", sample) == fmt.Sprintf("%T", obj) {
			return name
		}
	}
	return ""
}

// Key names an object for messages: "IPPool pool1" or "NetworkPolicy ns/name".
func Key(kind *Kind, namespace, name string) string {
	if kind.Namespaced {
		return kind.Kind + " " + namespace + "/" + name
	}
	return kind.Kind + " " + name
}

// KeyOf is Key for an object.
func KeyOf(obj runtime.Object) string {
	k, err := KindOf(obj)
	m, merr := meta.Accessor(obj)
	if err != nil || merr != nil {
		return fmt.Sprintf("%T", obj)
	}
	return Key(k, m.GetNamespace(), m.GetName())
}

// notFound and exists build the wrapped errors.
func notFound(kind *Kind, namespace, name string) error {
	return fmt.Errorf("%s: %w", Key(kind, namespace, name), ErrNotFound)
}

func alreadyExists(kind *Kind, namespace, name string) error {
	return fmt.Errorf("%s: %w", Key(kind, namespace, name), ErrAlreadyExists)
}

// sortObjects orders objects by namespace, then name.
func sortObjects(objs []runtime.Object) {
	sort.SliceStable(objs, func(i, j int) bool {
		a, _ := meta.Accessor(objs[i])
		b, _ := meta.Accessor(objs[j])
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		return a.GetName() < b.GetName()
	})
}

// Batcher is implemented by backends that can hold a lock across several calls (the
// file backend): what the calls check then still holds when they write.
type Batcher interface {
	Batch(fn func() error) error
}

// InBatch runs fn inside c's Batch when c has one, else just runs it.
func InBatch(c Client, fn func() error) error {
	if b, ok := c.(Batcher); ok {
		return b.Batch(fn)
	}
	return fn()
}
