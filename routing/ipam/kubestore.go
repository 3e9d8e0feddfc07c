package ipam

import (
	"context"
	"fmt"

	v3 "github.com/palisadenet/palisade/api/v3"
	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
)

// KubernetesStore keeps IPAM state in the projectcalico.org/v3 (or legacy
// crd.projectcalico.org/v1) custom resources
// (ipamblocks, blockaffinities, ipamhandles; ippools and ipreservations are read and
// default pools created). Updates carry the object's resourceVersion and deletes a
// resourceVersion precondition, so the apiserver decides every compare-and-swap.
type KubernetesStore struct {
	client rest.Interface
	log    *zap.Logger

	blocks     *kubeObjects[v3.IPAMBlock, *v3.IPAMBlock, v3.IPAMBlockList]
	affinities *kubeObjects[v3.BlockAffinity, *v3.BlockAffinity, v3.BlockAffinityList]
	handles    *kubeObjects[v3.IPAMHandle, *v3.IPAMHandle, v3.IPAMHandleList]
}

// Client-side rate limits when the config sets none: client-go's defaults (5/s) would
// cap a node at a few allocations per second.
const (
	defaultQPS   = 500
	defaultBurst = 1000
)

// NewKubernetesStore builds a REST client for projectcalico.org/v3 from cfg.
func NewKubernetesStore(cfg *rest.Config, log *zap.Logger) (*KubernetesStore, error) {
	return NewKubernetesStoreForGroup(cfg, v3.SchemeGroupVersion, log)
}

// NewKubernetesStoreForGroup is NewKubernetesStore for either group: projectcalico.org/v3
// or crd.projectcalico.org/v1, where clusters that ran Calico keep the same objects (the
// api/v3 Go types read and write both).
func NewKubernetesStoreForGroup(cfg *rest.Config, gv schema.GroupVersion, log *zap.Logger) (*KubernetesStore, error) {
	if log == nil {
		log = zap.NewNop()
	}
	scheme := runtime.NewScheme()
	var err error
	switch gv {
	case v3.SchemeGroupVersion:
		err = v3.AddToScheme(scheme)
	case v3.LegacyGroupVersion:
		err = v3.AddLegacyToScheme(scheme)
	default:
		err = fmt.Errorf("unsupported group version %s (want %s or %s)", gv, v3.SchemeGroupVersion, v3.LegacyGroupVersion)
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes store: %w", err)
	}
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &gv
	c.APIPath = "/apis"
	c.ContentType = runtime.ContentTypeJSON
	c.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	if c.QPS == 0 {
		c.QPS, c.Burst = defaultQPS, defaultBurst
	}
	if c.UserAgent == "" {
		c.UserAgent = "palisade-ipam"
	}
	client, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("kubernetes store: %w", err)
	}
	s := &KubernetesStore{client: client, log: log}
	s.blocks = &kubeObjects[v3.IPAMBlock, *v3.IPAMBlock, v3.IPAMBlockList]{client: client, resource: "ipamblocks",
		items: func(l *v3.IPAMBlockList) []v3.IPAMBlock { return l.Items }}
	s.affinities = &kubeObjects[v3.BlockAffinity, *v3.BlockAffinity, v3.BlockAffinityList]{client: client, resource: "blockaffinities",
		items: func(l *v3.BlockAffinityList) []v3.BlockAffinity { return l.Items }}
	s.handles = &kubeObjects[v3.IPAMHandle, *v3.IPAMHandle, v3.IPAMHandleList]{client: client, resource: "ipamhandles",
		items: func(l *v3.IPAMHandleList) []v3.IPAMHandle { return l.Items }}
	return s, nil
}

// Blocks implements Store.
func (s *KubernetesStore) Blocks() Objects[*v3.IPAMBlock] { return s.blocks }

// Affinities implements Store.
func (s *KubernetesStore) Affinities() Objects[*v3.BlockAffinity] { return s.affinities }

// Handles implements Store.
func (s *KubernetesStore) Handles() Objects[*v3.IPAMHandle] { return s.handles }

// Pools implements Store.
func (s *KubernetesStore) Pools(ctx context.Context) ([]v3.IPPool, error) {
	var list v3.IPPoolList
	if err := s.client.Get().Resource("ippools").Do(ctx).Into(&list); err != nil {
		return nil, fmt.Errorf("listing ippools: %w", mapError(err))
	}
	return list.Items, nil
}

// Reservations implements Store.
func (s *KubernetesStore) Reservations(ctx context.Context) ([]v3.IPReservation, error) {
	var list v3.IPReservationList
	if err := s.client.Get().Resource("ipreservations").Do(ctx).Into(&list); err != nil {
		return nil, fmt.Errorf("listing ipreservations: %w", mapError(err))
	}
	return list.Items, nil
}

// CreatePool implements Store.
func (s *KubernetesStore) CreatePool(ctx context.Context, pool *v3.IPPool) error {
	if err := s.client.Post().Resource("ippools").Body(pool).Do(ctx).Error(); err != nil {
		return fmt.Errorf("creating ippool %s: %w", pool.Name, mapError(err))
	}
	return nil
}

// mapError turns apiserver conflicts and not-founds into the Store errors, keeping the
// original in the chain.
func mapError(err error) error {
	switch {
	case err == nil:
		return nil
	case apierrors.IsConflict(err), apierrors.IsAlreadyExists(err):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

type kubeObjects[T any, P storedObject[T], L any] struct {
	client   rest.Interface
	resource string
	items    func(*L) []T
}

func (k *kubeObjects[T, P, L]) List(ctx context.Context) ([]P, error) {
	list := new(L)
	ro, ok := any(list).(runtime.Object)
	if !ok {
		return nil, fmt.Errorf("%s: list type is not a runtime.Object", k.resource)
	}
	if err := k.client.Get().Resource(k.resource).Do(ctx).Into(ro); err != nil {
		return nil, fmt.Errorf("listing %s: %w", k.resource, mapError(err))
	}
	items := k.items(list)
	out := make([]P, len(items))
	for i := range items {
		out[i] = P(&items[i])
	}
	return out, nil
}

func (k *kubeObjects[T, P, L]) Get(ctx context.Context, name string) (P, error) {
	return k.do(ctx, "reading", name, k.client.Get().Resource(k.resource).Name(name))
}

func (k *kubeObjects[T, P, L]) Create(ctx context.Context, obj P) (P, error) {
	return k.do(ctx, "creating", obj.GetName(), k.client.Post().Resource(k.resource).Body(asRuntime(obj)))
}

func (k *kubeObjects[T, P, L]) Update(ctx context.Context, obj P) (P, error) {
	out, err := k.do(ctx, "updating", obj.GetName(), k.client.Put().Resource(k.resource).Name(obj.GetName()).Body(asRuntime(obj)))
	if err == nil {
		obj.SetResourceVersion(out.GetResourceVersion())
	}
	return out, err
}

func (k *kubeObjects[T, P, L]) Delete(ctx context.Context, name, rv string) error {
	opts := &metav1.DeleteOptions{}
	if rv != "" {
		opts.Preconditions = &metav1.Preconditions{ResourceVersion: &rv}
	}
	err := k.client.Delete().Resource(k.resource).Name(name).Body(opts).Do(ctx).Error()
	if err != nil {
		return fmt.Errorf("deleting %s %s: %w", k.resource, name, mapError(err))
	}
	return nil
}

func (k *kubeObjects[T, P, L]) do(ctx context.Context, what, name string, req *rest.Request) (P, error) {
	out := P(new(T))
	if err := req.Do(ctx).Into(asRuntime(out)); err != nil {
		return nil, fmt.Errorf("%s %s %s: %w", what, k.resource, name, mapError(err))
	}
	return out, nil
}

func asRuntime(obj any) runtime.Object {
	ro, _ := obj.(runtime.Object)
	return ro
}
