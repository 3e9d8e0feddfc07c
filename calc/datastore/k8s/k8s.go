// Package k8s is a datastore.Datastore over the Kubernetes API, with client-go
// shared informers.
//
// In: a Kubernetes clientset, a dynamic client and discovery. Out: datastore.Events
// for Pods, Namespaces, ServiceAccounts, Nodes, networking.k8s.io/v1
// NetworkPolicies and the Calico kinds (NetworkPolicy, GlobalNetworkPolicy, Tier,
// NetworkSet, GlobalNetworkSet, FelixConfiguration, HostEndpoint, IPPool, BGPPeer,
// BGPConfiguration), the latter read from projectcalico.org/v3 when that group
// serves them, or from the legacy crd.projectcalico.org/v1 CRDs otherwise (or when
// Options.Group says so), and decoded into the api/v3 types either way.
//
// Informers are transformed (transform.go) so their caches hold only what the
// agent reads. Handlers never block: they append to a queue that one goroutine
// drains into batched Events. InSync follows once every informer's handler has seen
// its initial list. Calico objects are decoded leniently (unknown fields are
// ignored, nothing is validated here): the graph validates policies and fails them
// closed; an object that does not decode at all is reported as an Event error.
package k8s

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/calc/datastore"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Options configures a Datastore.
type Options struct {
	// Group forces the Calico API group: "projectcalico.org" (v3) or
	// "crd.projectcalico.org" (v1). Empty: v3 when discovery lists it, else v1.
	Group string
	// Resync is the informers' resync period (0: none).
	Resync time.Duration
	// MaxBatch bounds the updates of one Event (default 1000).
	MaxBatch int
}

// Datastore watches one cluster. Create it with New; Run it once.
type Datastore struct {
	client    kubernetes.Interface
	dynamic   dynamic.Interface
	discovery discovery.DiscoveryInterface
	log       *zap.Logger
	opts      Options
	q         queue
}

// New returns a Datastore.
func New(client kubernetes.Interface, dyn dynamic.Interface, disc discovery.DiscoveryInterface, log *zap.Logger, opts Options) *Datastore {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1000
	}
	d := &Datastore{client: client, dynamic: dyn, discovery: disc, log: log, opts: opts}
	d.q.signal = make(chan struct{}, 1)
	return d
}

// calicoKind is one Calico kind the datastore watches.
type calicoKind struct {
	resource string
	newObj   func() runtime.Object
}

var calicoKinds = []calicoKind{
	{"networkpolicies", func() runtime.Object { return &v3.NetworkPolicy{} }},
	{"globalnetworkpolicies", func() runtime.Object { return &v3.GlobalNetworkPolicy{} }},
	{"tiers", func() runtime.Object { return &v3.Tier{} }},
	{"networksets", func() runtime.Object { return &v3.NetworkSet{} }},
	{"globalnetworksets", func() runtime.Object { return &v3.GlobalNetworkSet{} }},
	{"felixconfigurations", func() runtime.Object { return &v3.FelixConfiguration{} }},
	{"hostendpoints", func() runtime.Object { return &v3.HostEndpoint{} }},
	{"ippools", func() runtime.Object { return &v3.IPPool{} }},
	{"bgppeers", func() runtime.Object { return &v3.BGPPeer{} }},
	{"bgpconfigurations", func() runtime.Object { return &v3.BGPConfiguration{} }},
	{"ipamblocks", func() runtime.Object { return &v3.IPAMBlock{} }},
	{"ipreservations", func() runtime.Object { return &v3.IPReservation{} }},
}

// Run starts the informers, sends Events until ctx ends, and returns ctx.Err(). It
// fails early when discovery cannot tell which Calico group to read.
func (d *Datastore) Run(ctx context.Context, out chan<- datastore.Event) error {
	gv, served, err := d.calicoGroup()
	if err != nil {
		return err
	}
	d.log.Info("kubernetes datastore: starting", zap.String("calicoGroup", gv.String()), zap.Int("calicoKinds", len(served)))

	typed := informers.NewSharedInformerFactory(d.client, d.opts.Resync)
	var regs []cache.ResourceEventHandlerRegistration
	addTyped := func(inf cache.SharedIndexInformer, transform cache.TransformFunc) error {
		if err := inf.SetTransform(transform); err != nil {
			return fmt.Errorf("setting transform: %w", err)
		}
		reg, err := inf.AddEventHandler(d.typedHandler())
		if err != nil {
			return fmt.Errorf("adding handler: %w", err)
		}
		regs = append(regs, reg)
		return nil
	}
	core := typed.Core().V1()
	for _, a := range []struct {
		inf cache.SharedIndexInformer
		tf  cache.TransformFunc
	}{
		{core.Pods().Informer(), TransformPod},
		{core.Namespaces().Informer(), TransformLabelsOnly},
		{core.ServiceAccounts().Informer(), TransformLabelsOnly},
		{core.Nodes().Informer(), TransformNode},
		{typed.Networking().V1().NetworkPolicies().Informer(), TransformStripManaged},
	} {
		if err := addTyped(a.inf, a.tf); err != nil {
			return err
		}
	}
	dyn := dynamicinformer.NewDynamicSharedInformerFactory(d.dynamic, d.opts.Resync)
	for _, k := range served {
		inf := dyn.ForResource(gv.WithResource(k.resource)).Informer()
		if err := inf.SetTransform(TransformStripManaged); err != nil {
			return fmt.Errorf("setting transform for %s: %w", k.resource, err)
		}
		reg, err := inf.AddEventHandler(d.calicoHandler(k))
		if err != nil {
			return fmt.Errorf("adding handler for %s: %w", k.resource, err)
		}
		regs = append(regs, reg)
	}
	typed.Start(ctx.Done())
	dyn.Start(ctx.Done())
	defer typed.Shutdown()
	defer dyn.Shutdown()

	go func() {
		synced := make([]cache.InformerSynced, len(regs))
		for i, r := range regs {
			synced[i] = r.HasSynced
		}
		if cache.WaitForCacheSync(ctx.Done(), synced...) {
			d.q.push(item{inSync: true})
		}
	}()
	return d.drain(ctx, out)
}

// calicoGroup picks the group version to read and the kinds it serves.
func (d *Datastore) calicoGroup() (schema.GroupVersion, []calicoKind, error) {
	candidates := []schema.GroupVersion{v3.SchemeGroupVersion, v3.LegacyGroupVersion}
	switch d.opts.Group {
	case "":
	case v3.GroupName:
		candidates = candidates[:1]
	case v3.LegacyGroupName:
		candidates = candidates[1:]
	default:
		return schema.GroupVersion{}, nil, fmt.Errorf("unknown Calico API group %q (want %s or %s)", d.opts.Group, v3.GroupName, v3.LegacyGroupName)
	}
	for _, gv := range candidates {
		list, err := d.discovery.ServerResourcesForGroupVersion(gv.String())
		if err != nil || list == nil {
			d.log.Debug("kubernetes datastore: group not served", zap.String("group", gv.String()), zap.Error(err))
			continue
		}
		have := map[string]bool{}
		for _, r := range list.APIResources {
			have[r.Name] = true
		}
		var served []calicoKind
		for _, k := range calicoKinds {
			if have[k.resource] {
				served = append(served, k)
			}
		}
		if len(served) > 0 {
			return gv, served, nil
		}
	}
	return schema.GroupVersion{}, nil, fmt.Errorf("discovering Calico API: neither %s nor %s serves any Calico kind (install the CRDs)", candidates[0], candidates[len(candidates)-1])
}

func (d *Datastore) typedHandler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { d.pushObject(obj) },
		UpdateFunc: func(_, obj any) { d.pushObject(obj) },
		DeleteFunc: func(obj any) { d.pushDelete(obj, nil) },
	}
}

func (d *Datastore) pushObject(obj any) {
	ro, ok := obj.(runtime.Object)
	if !ok {
		return
	}
	u, err := datastore.UpdateOf(ro)
	if err != nil {
		d.q.push(item{err: fmt.Errorf("kubernetes datastore: %w", err)})
		return
	}
	d.q.push(item{update: u})
}

// pushDelete sends the deletion of obj (or of a tombstone's last state); decode
// turns Calico unstructured objects into typed ones to find their kind.
func (d *Datastore) pushDelete(obj any, decode func(*unstructured.Unstructured) (runtime.Object, error)) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if u, ok := obj.(*unstructured.Unstructured); ok && decode != nil {
		typed, err := decode(u)
		if err != nil {
			d.q.push(item{err: err})
			return
		}
		obj = typed
	}
	ro, ok := obj.(runtime.Object)
	if !ok {
		return
	}
	k, err := datastore.KeyOf(ro)
	if err != nil {
		d.q.push(item{err: fmt.Errorf("kubernetes datastore: %w", err)})
		return
	}
	d.q.push(item{update: datastore.Update{Key: k}})
}

func (d *Datastore) calicoHandler(k calicoKind) cache.ResourceEventHandler {
	decode := func(u *unstructured.Unstructured) (runtime.Object, error) { return decodeCalico(u, k.newObj) }
	push := func(obj any) {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return
		}
		typed, err := decode(u)
		if err != nil {
			d.q.push(item{err: err})
			return
		}
		d.pushObject(typed)
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    push,
		UpdateFunc: func(_, obj any) { push(obj) },
		DeleteFunc: func(obj any) { d.pushDelete(obj, decode) },
	}
}

// decodeCalico turns an unstructured object of either Calico group into its
// api/v3 type (same spec shape), leniently.
func decodeCalico(u *unstructured.Unstructured, newObj func() runtime.Object) (runtime.Object, error) {
	data, err := u.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding %s %s: %w", u.GetKind(), objName(u), err)
	}
	obj := newObj()
	if err := json.Unmarshal(data, obj); err != nil {
		return nil, fmt.Errorf("decoding %s %s: %w", u.GetKind(), objName(u), err)
	}
	obj.GetObjectKind().SetGroupVersionKind(v3.SchemeGroupVersion.WithKind(u.GetKind()))
	return obj, nil
}

func objName(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetName()
	}
	return u.GetNamespace() + "/" + u.GetName()
}

// drain sends queued items as Events, at most MaxBatch updates each.
func (d *Datastore) drain(ctx context.Context, out chan<- datastore.Event) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.q.signal:
		}
		for _, ev := range d.q.take(d.opts.MaxBatch) {
			select {
			case out <- ev:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// item is one queued update, error or the in-sync mark.
type item struct {
	update datastore.Update
	err    error
	inSync bool
}

// queue is unbounded so informer handlers never block on a slow consumer.
type queue struct {
	mu     sync.Mutex
	items  []item
	signal chan struct{}
}

func (q *queue) push(it item) {
	q.mu.Lock()
	q.items = append(q.items, it)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// take empties the queue into Events, keeping order: an InSync mark ends the
// Event it follows.
func (q *queue) take(maxBatch int) []datastore.Event {
	q.mu.Lock()
	items := q.items
	q.items = nil
	q.mu.Unlock()
	var evs []datastore.Event
	var cur datastore.Event
	flush := func() {
		if len(cur.Updates)+len(cur.Errors) > 0 || cur.InSync {
			evs = append(evs, cur)
		}
		cur = datastore.Event{}
	}
	for _, it := range items {
		switch {
		case it.inSync:
			flush()
			evs = append(evs, datastore.Event{InSync: true})
		case it.err != nil:
			cur.Errors = append(cur.Errors, it.err)
		default:
			cur.Updates = append(cur.Updates, it.update)
			if len(cur.Updates) >= maxBatch {
				flush()
			}
		}
	}
	flush()
	return evs
}

var _ datastore.Datastore = (*Datastore)(nil)
