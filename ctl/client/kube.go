package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	sigsjson "sigs.k8s.io/json"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/resource"
)

// Kubernetes is the Kubernetes API backend. Calico kinds go through a dynamic client,
// to projectcalico.org/v3 when the API server serves the kind there, otherwise to the
// legacy crd.projectcalico.org/v1 CRDs; either way callers see api/v3 objects.
type Kubernetes struct {
	kube      kubernetes.Interface
	dyn       dynamic.Interface
	discovery discovery.DiscoveryInterface

	once   sync.Once
	served map[schema.GroupVersion]map[string]bool // group version → plural → served
	err    error
}

// NewKubernetesFromConfig builds the REST configuration from c (kubeconfig file, then
// the k8s* overrides; in-cluster when nothing names a server) and returns the backend.
func NewKubernetesFromConfig(c Config) (*Kubernetes, error) {
	cfg, err := RESTConfig(c)
	if err != nil {
		return nil, err
	}
	return NewKubernetes(cfg)
}

// RESTConfig turns a Config into a client-go REST configuration.
func RESTConfig(c Config) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if c.Kubeconfig != "" {
		rules.ExplicitPath = c.Kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{}
	overrides.ClusterInfo.Server = c.K8sAPIEndpoint
	overrides.ClusterInfo.CertificateAuthority = c.K8sCAFile
	overrides.ClusterInfo.InsecureSkipTLSVerify = c.K8sInsecureSkipTLSVerify
	overrides.AuthInfo.Token = c.K8sAPIToken
	overrides.AuthInfo.ClientCertificate = c.K8sCertFile
	overrides.AuthInfo.ClientKey = c.K8sKeyFile
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubernetes datastore: %w (set KUBECONFIG, --config, or DATASTORE_TYPE=file with DATASTORE_DIR)", err)
	}
	cfg.UserAgent = "palisadectl"
	return cfg, nil
}

// NewKubernetes returns the backend for a REST configuration.
func NewKubernetes(cfg *rest.Config) (*Kubernetes, error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes dynamic client: %w", err)
	}
	return &Kubernetes{kube: kube, dyn: dyn, discovery: kube.Discovery()}, nil
}

// groupFor picks where a kind is served: projectcalico.org/v3 first.
func (k *Kubernetes) groupFor(kind *Kind) (schema.GroupVersion, error) {
	k.once.Do(func() {
		k.served = map[schema.GroupVersion]map[string]bool{}
		var errs []error
		for _, gv := range []schema.GroupVersion{v3.SchemeGroupVersion, v3.LegacyGroupVersion} {
			list, err := k.discovery.ServerResourcesForGroupVersion(gv.String())
			if err != nil {
				if !apierrors.IsNotFound(err) {
					errs = append(errs, err)
				}
				continue
			}
			k.served[gv] = map[string]bool{}
			for _, r := range list.APIResources {
				k.served[gv][r.Name] = true
			}
		}
		if len(k.served) == 0 && len(errs) > 0 {
			k.err = fmt.Errorf("discovering the Calico API: %w", errors.Join(errs...))
		}
	})
	if k.err != nil {
		return schema.GroupVersion{}, k.err
	}
	for _, gv := range []schema.GroupVersion{v3.SchemeGroupVersion, v3.LegacyGroupVersion} {
		if k.served[gv][kind.Plural] {
			return gv, nil
		}
	}
	return schema.GroupVersion{}, fmt.Errorf("the API server serves %s in neither %s nor %s (install the CRDs: manifests/crds)", kind.Plural, v3.SchemeGroupVersion, v3.LegacyGroupVersion)
}

func (k *Kubernetes) resourceFor(kind *Kind, namespace string) (dynamic.ResourceInterface, schema.GroupVersion, error) {
	gv, err := k.groupFor(kind)
	if err != nil {
		return nil, gv, err
	}
	r := k.dyn.Resource(gv.WithResource(kind.Plural))
	if kind.Namespaced {
		return r.Namespace(namespace), gv, nil
	}
	return r, gv, nil
}

// Get implements Client.
func (k *Kubernetes) Get(ctx context.Context, kind *Kind, namespace, name string) (runtime.Object, error) {
	r, _, err := k.resourceFor(kind, namespace)
	if err != nil {
		return nil, err
	}
	u, err := k.getStored(ctx, r, kind, name)
	if err != nil {
		return nil, k.wrap(err, kind, namespace, name)
	}
	return fromUnstructured(u)
}

// getStored reads the stored object. Calico's own CRD backend stores default-tier
// policies in crd.projectcalico.org/v1 as "default.<name>", so that name is tried too.
func (k *Kubernetes) getStored(ctx context.Context, r dynamic.ResourceInterface, kind *Kind, name string) (*unstructured.Unstructured, error) {
	u, err := r.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && isPolicyKind(kind) && !strings.HasPrefix(name, "default.") {
		if gv, gerr := k.groupFor(kind); gerr == nil && gv == v3.LegacyGroupVersion {
			if u2, err2 := r.Get(ctx, "default."+name, metav1.GetOptions{}); err2 == nil {
				return u2, nil
			}
		}
	}
	return u, err
}

func isPolicyKind(kind *Kind) bool {
	return kind.Kind == v3.KindNetworkPolicy || kind.Kind == v3.KindGlobalNetworkPolicy
}

// List implements Client.
func (k *Kubernetes) List(ctx context.Context, kind *Kind, namespace string) ([]runtime.Object, error) {
	r, _, err := k.resourceFor(kind, namespace)
	if err != nil {
		return nil, err
	}
	list, err := r.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", kind.Plural, err)
	}
	out := make([]runtime.Object, 0, len(list.Items))
	for i := range list.Items {
		obj, err := fromUnstructured(&list.Items[i])
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	sortObjects(out)
	return out, nil
}

// Create implements Client.
func (k *Kubernetes) Create(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
	kind, u, r, err := k.prepare(obj)
	if err != nil {
		return nil, err
	}
	// Metadata the server assigns (copied from another object or cluster) is dropped.
	u.SetResourceVersion("")
	u.SetUID("")
	u.SetManagedFields(nil)
	got, err := r.Create(ctx, u, metav1.CreateOptions{FieldManager: "palisadectl"})
	if err != nil {
		return nil, k.wrap(err, kind, u.GetNamespace(), u.GetName())
	}
	return fromUnstructured(got)
}

// Update implements Client. Without a resourceVersion the stored one is used, so the
// object replaces whatever is there (calicoctl replace does the same).
func (k *Kubernetes) Update(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
	kind, u, r, err := k.prepare(obj)
	if err != nil {
		return nil, err
	}
	name := u.GetName()
	if u.GetResourceVersion() == "" {
		cur, err := k.getStored(ctx, r, kind, name)
		if err != nil {
			return nil, k.wrap(err, kind, u.GetNamespace(), name)
		}
		u.SetName(cur.GetName())
		u.SetResourceVersion(cur.GetResourceVersion())
		if u.GetUID() == "" {
			u.SetUID(cur.GetUID())
		}
	}
	got, err := r.Update(ctx, u, metav1.UpdateOptions{FieldManager: "palisadectl"})
	if err != nil {
		return nil, k.wrap(err, kind, u.GetNamespace(), name)
	}
	return fromUnstructured(got)
}

// Delete implements Client.
func (k *Kubernetes) Delete(ctx context.Context, kind *Kind, namespace, name string) (runtime.Object, error) {
	r, _, err := k.resourceFor(kind, namespace)
	if err != nil {
		return nil, err
	}
	stored, err := k.getStored(ctx, r, kind, name)
	if err != nil {
		return nil, k.wrap(err, kind, namespace, name)
	}
	if err := r.Delete(ctx, stored.GetName(), metav1.DeleteOptions{}); err != nil {
		return nil, k.wrap(err, kind, namespace, name)
	}
	return fromUnstructured(stored)
}

// prepare converts obj for the group its kind is served in.
func (k *Kubernetes) prepare(obj runtime.Object) (*Kind, *unstructured.Unstructured, dynamic.ResourceInterface, error) {
	kind, err := KindOf(obj)
	if err != nil {
		return nil, nil, nil, err
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil, nil, err
	}
	if kind.Namespaced && m.GetNamespace() == "" {
		m.SetNamespace(resource.DefaultNamespace)
	}
	r, gv, err := k.resourceFor(kind, m.GetNamespace())
	if err != nil {
		return nil, nil, nil, err
	}
	js, err := json.Marshal(obj)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encoding %s: %w", KeyOf(obj), err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		return nil, nil, nil, fmt.Errorf("encoding %s: %w", KeyOf(obj), err)
	}
	u.SetAPIVersion(gv.String())
	u.SetKind(kind.Kind)
	if !kind.Namespaced {
		u.SetNamespace("")
	}
	return kind, u, r, nil
}

// wrap maps API errors onto this package's.
func (k *Kubernetes) wrap(err error, kind *Kind, namespace, name string) error {
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%s: %w", Key(kind, namespace, name), ErrNotFound)
	case apierrors.IsAlreadyExists(err):
		return fmt.Errorf("%s: %w", Key(kind, namespace, name), ErrAlreadyExists)
	case apierrors.IsConflict(err):
		return fmt.Errorf("%s: %w: %v", Key(kind, namespace, name), ErrConflict, err)
	}
	return fmt.Errorf("%s: %w", Key(kind, namespace, name), err)
}

// fromUnstructured decodes an object of either group into its api/v3 type. Unknown
// fields are ignored: a cluster may hold fields of a newer Calico.
func fromUnstructured(u *unstructured.Unstructured) (runtime.Object, error) {
	if u.GetAPIVersion() == v3.LegacyGroupVersion.String() {
		obj, err := v3.FromLegacy(u)
		if err != nil {
			return nil, fmt.Errorf("decoding %s %s: %w", u.GetKind(), u.GetName(), err)
		}
		return stripManaged(obj), nil
	}
	obj := v3.New(u.GetKind())
	if obj == nil {
		return nil, fmt.Errorf("decoding %s %s: unknown kind", u.GetKind(), u.GetName())
	}
	js, err := u.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("decoding %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(js, obj); err != nil {
		return nil, fmt.Errorf("decoding %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	obj.GetObjectKind().SetGroupVersionKind(v3.SchemeGroupVersion.WithKind(u.GetKind()))
	return stripManaged(obj), nil
}

// PolicyObjects implements Client.
func (k *Kubernetes) PolicyObjects(ctx context.Context) ([]resource.Object, error) {
	var out []resource.Object
	add := func(obj runtime.Object, kind string) {
		m, _ := meta.Accessor(obj)
		out = append(out, resource.Object{Obj: obj, Source: resource.Location{File: "cluster", Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName()}})
	}
	core := k.kube.CoreV1()
	nss, err := core.Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	for i := range nss.Items {
		add(&nss.Items[i], "Namespace")
	}
	pods, err := core.Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	for i := range pods.Items {
		add(&pods.Items[i], "Pod")
	}
	sas, err := core.ServiceAccounts("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing service accounts: %w", err)
	}
	for i := range sas.Items {
		add(&sas.Items[i], "ServiceAccount")
	}
	nps, err := k.kube.NetworkingV1().NetworkPolicies("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing networkpolicies.networking.k8s.io: %w", err)
	}
	for i := range nps.Items {
		add(&nps.Items[i], "NetworkPolicy")
	}
	for _, name := range []string{v3.KindNetworkPolicy, v3.KindGlobalNetworkPolicy, v3.KindTier, v3.KindNetworkSet, v3.KindGlobalNetworkSet} {
		kind, err := LookupKind(name)
		if err != nil {
			return nil, err
		}
		if _, err := k.groupFor(kind); err != nil {
			continue // not installed: nothing of that kind to evaluate
		}
		objs, err := k.List(ctx, kind, "")
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			add(o, name)
		}
	}
	return out, nil
}

// ClusterInfo implements Client.
func (k *Kubernetes) ClusterInfo(ctx context.Context) (ClusterInfo, error) {
	info := ClusterInfo{Datastore: "kubernetes"}
	v, err := k.discovery.ServerVersion()
	if err != nil {
		return info, fmt.Errorf("asking the API server for its version: %w", err)
	}
	info.KubernetesVersion = v.GitVersion
	kind, err := LookupKind(v3.KindClusterInformation)
	if err != nil {
		return info, err
	}
	gv, err := k.groupFor(kind)
	if err != nil {
		return info, nil
	}
	info.Datastore = "kubernetes (" + gv.String() + ")"
	obj, err := k.Get(ctx, kind, "", "default")
	if errors.Is(err, ErrNotFound) {
		return info, nil
	}
	if err != nil {
		return info, err
	}
	ci := obj.(*v3.ClusterInformation)
	info.CalicoVersion, info.ClusterType = ci.Spec.CalicoVersion, ci.Spec.ClusterType
	return info, nil
}

// Warnings implements Client.
func (k *Kubernetes) Warnings() []string { return nil }

var _ Client = (*Kubernetes)(nil)

// stripManaged drops managedFields: bookkeeping of server-side apply that users do not
// write and kubectl hides too.
func stripManaged(obj runtime.Object) runtime.Object {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
	}
	return obj
}
