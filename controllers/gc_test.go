package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/routing/ipam"
)

const grace = 10 * time.Minute

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// fakeCluster is the pods and nodes that exist. existsAtCheck, when set, overrides
// the answer of the last-moment checks (a pod reappearing between list and release).
type fakeCluster struct {
	mu            sync.Mutex
	pods, nodes   map[string]bool
	existsAtCheck map[string]bool
	checks        []string
}

func newFakeCluster(nodes ...string) *fakeCluster {
	c := &fakeCluster{pods: map[string]bool{}, nodes: map[string]bool{}, existsAtCheck: map[string]bool{}}
	for _, n := range nodes {
		c.nodes[n] = true
	}
	return c
}

func (c *fakeCluster) Pods(context.Context) (map[string]bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return clone(c.pods), nil
}

func (c *fakeCluster) Nodes(context.Context) (map[string]bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return clone(c.nodes), nil
}

func (c *fakeCluster) PodExists(_ context.Context, ns, name string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := ns + "/" + name
	c.checks = append(c.checks, "pod "+key)
	return c.pods[key] || c.existsAtCheck["pod "+key], nil
}

func (c *fakeCluster) NodeExists(_ context.Context, name string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checks = append(c.checks, "node "+name)
	return c.nodes[name] || c.existsAtCheck["node "+name], nil
}

func clone(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// world is a MemoryStore with one pool, the real allocator, a fake cluster and a fake
// clock, with helpers to run pods.
type world struct {
	t       *testing.T
	store   *ipam.MemoryStore
	alloc   *ipam.Allocator
	cluster *fakeCluster
	clock   *clocktesting.FakeClock
	gc      *GC
}

func newWorld(t *testing.T, nodes ...string) *world {
	t.Helper()
	pool := v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "pool"}, Spec: v3.IPPoolSpec{CIDR: "10.0.0.0/24", BlockSize: 28}}
	w := &world{t: t, store: ipam.NewMemoryStore([]v3.IPPool{pool}, nil), cluster: newFakeCluster(nodes...), clock: clocktesting.NewFakeClock(t0)}
	w.alloc = ipam.New(w.store, zaptest.NewLogger(t))
	gc, err := NewGC(w.store, w.alloc, w.cluster, w.clock, zaptest.NewLogger(t), GCOptions{Grace: grace, Period: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	w.gc = gc
	return w
}

// runPod creates pod ns/name on node and assigns it an address the way the CNI does.
func (w *world) runPod(node, ns, name string) netip.Addr {
	w.t.Helper()
	w.cluster.mu.Lock()
	w.cluster.pods[ns+"/"+name] = true
	w.cluster.mu.Unlock()
	as, err := w.alloc.Assign(context.Background(), ipam.AssignArgs{
		Handle: handleOf(ns, name), Node: node, Num4: 1,
		Attrs: map[string]string{ipam.AttrNamespace: ns, ipam.AttrPod: name, ipam.AttrNode: node},
	})
	if err != nil || len(as) != 1 {
		w.t.Fatalf("assigning %s/%s on %s: %v %v", ns, name, node, as, err)
	}
	return as[0].Addr.Addr()
}

func handleOf(ns, name string) string { return "k8s-pod-network." + ns + "-" + name }

func (w *world) deletePod(ns, name string) {
	w.cluster.mu.Lock()
	defer w.cluster.mu.Unlock()
	delete(w.cluster.pods, ns+"/"+name)
}

func (w *world) deleteNode(name string) {
	w.cluster.mu.Lock()
	defer w.cluster.mu.Unlock()
	delete(w.cluster.nodes, name)
}

// scanAt moves the clock to t0+at and scans.
func (w *world) scanAt(at time.Duration) Report {
	w.t.Helper()
	w.clock.SetTime(t0.Add(at))
	rep, err := w.gc.Scan(context.Background())
	if err != nil {
		w.t.Fatalf("scan at %s: %v", at, err)
	}
	for _, err := range rep.Errors {
		w.t.Errorf("scan at %s: %v", at, err)
	}
	return rep
}

// allocated lists the allocated addresses with their pod.
func (w *world) allocated() map[netip.Addr]string {
	w.t.Helper()
	blocks, err := w.store.Blocks().List(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	allocs, _ := allocations(blocks)
	out := map[netip.Addr]string{}
	for _, a := range allocs {
		out[a.Addr] = string(a.Owner)
	}
	return out
}

func released(rep Report) []string {
	var out []string
	for _, r := range rep.Released {
		out = append(out, r.Handle)
	}
	return out
}

func TestReleaseAfterTwoScansGraceApart(t *testing.T) {
	w := newWorld(t, "node-a")
	w.runPod("node-a", "ns", "gone")
	kept := w.runPod("node-a", "ns", "kept")
	w.deletePod("ns", "gone")

	steps := []struct {
		at           time.Duration
		wantReleased []string
		wantWaiting  int
	}{
		{0, nil, 1},                   // first seen missing
		{grace - time.Second, nil, 1}, // second scan, but not grace apart
		{grace, []string{handleOf("ns", "gone")}, 0},
		{2 * grace, nil, 0},
	}
	for _, s := range steps {
		rep := w.scanAt(s.at)
		if diff := cmp.Diff(s.wantReleased, released(rep)); diff != "" {
			t.Errorf("scan at %s: released (-want +got):\n%s", s.at, diff)
		}
		if len(rep.Plan.Waiting) != s.wantWaiting {
			t.Errorf("scan at %s: %d waiting, want %d", s.at, len(rep.Plan.Waiting), s.wantWaiting)
		}
	}
	want := map[netip.Addr]string{kept: "pod:ns/kept"}
	if diff := cmp.Diff(want, w.allocated()); diff != "" {
		t.Errorf("allocations after GC (-want +got):\n%s", diff)
	}
	if _, err := w.store.Handles().Get(context.Background(), ipam.HandleName(handleOf("ns", "gone"))); !errors.Is(err, ipam.ErrNotFound) {
		t.Errorf("handle of the deleted pod still there: %v", err)
	}
}

func TestNeverReleaseLivePods(t *testing.T) {
	w := newWorld(t, "node-a", "node-b")
	before := map[netip.Addr]string{}
	for i := range 20 {
		node := []string{"node-a", "node-b"}[i%2]
		name := fmt.Sprintf("p%d", i)
		before[w.runPod(node, "ns", name)] = "pod:ns/" + name
	}
	for i := range 10 {
		rep := w.scanAt(time.Duration(i) * grace)
		if len(rep.Released)+len(rep.Plan.Waiting)+len(rep.DeletedBlocks) > 0 {
			t.Fatalf("scan %d acted on live pods: %+v", i, rep)
		}
	}
	if diff := cmp.Diff(before, w.allocated()); diff != "" {
		t.Errorf("allocations changed (-before +after):\n%s", diff)
	}
}

// A pod seen again between two missing sightings starts its grace period over.
func TestReappearingPodRestartsGrace(t *testing.T) {
	w := newWorld(t, "node-a")
	w.runPod("node-a", "ns", "flaky")
	w.deletePod("ns", "flaky")
	w.scanAt(0)
	w.cluster.mu.Lock()
	w.cluster.pods["ns/flaky"] = true
	w.cluster.mu.Unlock()
	w.scanAt(grace / 2)
	w.deletePod("ns", "flaky")
	if rep := w.scanAt(grace); len(rep.Released) != 0 {
		t.Fatalf("released although the pod was present %s ago: %v", grace/2, released(rep))
	}
	if rep := w.scanAt(grace + grace/2); len(rep.Released) != 0 {
		t.Fatalf("released only %s after the pod went missing again", grace/2)
	}
	if rep := w.scanAt(2 * grace); len(rep.Released) != 1 {
		t.Fatalf("not released a full grace period after it went missing again: %+v", rep)
	}
}

// The pod list missed a pod that the final check finds: nothing is released.
func TestFinalCheckSparesPod(t *testing.T) {
	w := newWorld(t, "node-a")
	addr := w.runPod("node-a", "ns", "late")
	w.deletePod("ns", "late")
	w.scanAt(0)
	w.cluster.existsAtCheck["pod ns/late"] = true
	rep := w.scanAt(grace)
	if len(rep.Released) != 0 || len(rep.Spared) != 1 {
		t.Fatalf("released %v spared %v; want the pod spared", released(rep), rep.Spared)
	}
	if w.allocated()[addr] != "pod:ns/late" {
		t.Fatalf("address of a pod that exists was released")
	}
	if !slices.Contains(w.cluster.checks, "pod ns/late") {
		t.Errorf("no final check was made: %v", w.cluster.checks)
	}
	// The sighting was reset: the next scan does not release at once.
	delete(w.cluster.existsAtCheck, "pod ns/late")
	if rep := w.scanAt(grace + time.Minute); len(rep.Released) != 0 {
		t.Errorf("released right after the pod was seen: %v", released(rep))
	}
}

func TestDeletedNodeBlocks(t *testing.T) {
	w := newWorld(t, "node-a", "node-b")
	ctx := context.Background()
	// node-b: one block with a pod that is still running (its pod object exists),
	// one with a pod that is gone, and an empty block (its pods left long ago).
	w.runPod("node-b", "ns", "survivor")
	for i := range 16 { // fill the first /28 so the next pods go to new blocks
		w.runPod("node-b", "fill", fmt.Sprint(i))
	}
	for i := range 16 {
		w.deletePod("fill", fmt.Sprint(i))
		if err := w.alloc.ReleaseByHandle(ctx, handleOf("fill", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	blocksBefore := blockOwners(t, w.store)
	w.runPod("node-a", "ns", "a-pod")
	// A pending affinity of node-b whose block was never created.
	if _, err := w.store.Affinities().Create(ctx, &v3.BlockAffinity{ObjectMeta: metav1.ObjectMeta{Name: "node-b-10-0-0-240-28"},
		Spec: v3.BlockAffinitySpec{State: v3.BlockAffinityPending, Node: "node-b", CIDR: "10.0.0.240/28"}}); err != nil {
		t.Fatal(err)
	}
	w.deleteNode("node-b")

	if rep := w.scanAt(0); len(rep.DeletedBlocks)+len(rep.DeletedAffinities) != 0 {
		t.Fatalf("deleted at the first sighting: %+v", rep)
	}
	rep := w.scanAt(grace)
	wantBlocks := []string{}
	for cidr, owner := range blocksBefore {
		if owner == "node-b" && cidr != "10.0.0.0/28" {
			wantBlocks = append(wantBlocks, cidr)
		}
	}
	slices.Sort(wantBlocks)
	if diff := cmp.Diff(wantBlocks, rep.DeletedBlocks); diff != "" {
		t.Errorf("deleted blocks (-want +got):\n%s", diff)
	}
	if !slices.Contains(rep.DeletedAffinities, "node-b-10-0-0-240-28") {
		t.Errorf("dangling affinity of the deleted node not deleted: %v", rep.DeletedAffinities)
	}
	wantKept := []KeptBlock{{CIDR: "10.0.0.0/28", Node: "node-b", InUse: 1, Owners: []Owner{"pod:ns/survivor"}}}
	if diff := cmp.Diff(wantKept, rep.Plan.Kept); diff != "" {
		t.Errorf("kept blocks (-want +got):\n%s", diff)
	}
	after := blockOwners(t, w.store)
	if after["10.0.0.0/28"] != "node-b" || len(after) != 2 {
		t.Errorf("blocks left: %v; want node-b's block with the live pod and node-a's", after)
	}
	affs, _ := w.store.Affinities().List(ctx)
	for _, a := range affs {
		if a.Spec.Node == "node-b" && a.Spec.CIDR != "10.0.0.0/28" {
			t.Errorf("affinity %s of the deleted node left behind", a.Name)
		}
		if a.Spec.State != v3.BlockAffinityConfirmed {
			t.Errorf("affinity %s in state %s", a.Name, a.Spec.State)
		}
	}

	// The survivor's pod goes: its address is released, then its block is deleted.
	w.deletePod("ns", "survivor")
	w.scanAt(2 * grace)
	if rep := w.scanAt(3 * grace); !slices.Equal(released(rep), []string{handleOf("ns", "survivor")}) {
		t.Fatalf("survivor not released: %v", released(rep))
	}
	if rep := w.scanAt(3*grace + time.Minute); !slices.Equal(rep.DeletedBlocks, []string{"10.0.0.0/28"}) {
		t.Fatalf("emptied block of the deleted node not deleted: %v", rep.DeletedBlocks)
	}
}

func blockOwners(t *testing.T, s ipam.Store) map[string]string {
	t.Helper()
	blocks, err := s.Blocks().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, b := range blocks {
		out[b.Spec.CIDR] = hostOf(b)
	}
	return out
}

// conflictingBlocks makes every block delete lose its compare-and-swap, as when a
// node allocates from the block between the scan and the delete.
type conflictingBlocks struct {
	ipam.Objects[*v3.IPAMBlock]
}

func (conflictingBlocks) Delete(context.Context, string, string) error { return ipam.ErrConflict }

type conflictStore struct{ *ipam.MemoryStore }

func (s conflictStore) Blocks() ipam.Objects[*v3.IPAMBlock] {
	return conflictingBlocks{s.MemoryStore.Blocks()}
}

func TestBlockDeleteConflictRestoresAffinity(t *testing.T) {
	w := newWorld(t, "node-a", "node-b")
	w.runPod("node-b", "ns", "p")
	w.deletePod("ns", "p")
	if err := w.alloc.ReleaseByHandle(context.Background(), handleOf("ns", "p")); err != nil {
		t.Fatal(err)
	}
	w.deleteNode("node-b")
	gc, err := NewGC(conflictStore{w.store}, w.alloc, w.cluster, w.clock, zaptest.NewLogger(t), GCOptions{Grace: grace, Period: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	w.gc = gc
	w.clock.SetTime(t0)
	if _, err := gc.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.clock.SetTime(t0.Add(grace))
	rep, err := gc.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.DeletedBlocks) != 0 || len(rep.Errors) != 1 || !errors.Is(rep.Errors[0], ipam.ErrConflict) {
		t.Fatalf("deleted %v, errors %v; want one conflict and nothing deleted", rep.DeletedBlocks, rep.Errors)
	}
	affs, _ := w.store.Affinities().List(context.Background())
	if len(affs) != 1 || affs[0].Spec.State != v3.BlockAffinityConfirmed {
		t.Fatalf("affinities after a lost delete: %+v; want node-b's back to confirmed", affs)
	}
}

// Addresses held for a node rather than a pod (tunnel addresses) go with the node.
func TestNodeOwnedAddressReleasedWithNode(t *testing.T) {
	w := newWorld(t, "node-a", "node-b")
	if _, err := w.alloc.Assign(context.Background(), ipam.AssignArgs{Handle: "ipip-tunnel-addr-node-b", Node: "node-b", Num4: 1,
		Attrs: map[string]string{ipam.AttrNode: "node-b", "type": "ipipTunnelAddress"}}); err != nil {
		t.Fatal(err)
	}
	if rep := w.scanAt(0); len(rep.Plan.Waiting) != 0 {
		t.Fatalf("tunnel address of a live node is waiting: %+v", rep.Plan.Waiting)
	}
	w.deleteNode("node-b")
	w.scanAt(grace)
	rep := w.scanAt(2 * grace)
	if !slices.Equal(released(rep), []string{"ipip-tunnel-addr-node-b"}) {
		t.Fatalf("released %v; want the deleted node's tunnel address", released(rep))
	}
	if rep := w.scanAt(2*grace + time.Minute); len(rep.DeletedBlocks) != 1 {
		t.Fatalf("block of the deleted node not deleted once empty: %+v", rep)
	}
}

func TestNewGCRejectsBadOptions(t *testing.T) {
	for _, o := range []GCOptions{{}, {Grace: time.Minute}, {Period: time.Minute}, {Grace: -1, Period: time.Minute}} {
		if _, err := NewGC(nil, nil, nil, nil, nil, o); err == nil {
			t.Errorf("NewGC accepted %+v", o)
		}
	}
}

func TestHealth(t *testing.T) {
	w := newWorld(t, "node-a")
	h := NewHealth(w.gc, w.clock, 3*time.Minute)
	w.clock.SetTime(t0)
	if err := h.Check(); err != nil {
		t.Fatalf("standby replica unhealthy: %v", err)
	}
	h.SetLeading(true)
	w.clock.SetTime(t0.Add(2 * time.Minute))
	if err := h.Check(); err != nil {
		t.Fatalf("new leader unhealthy before its first scan is due: %v", err)
	}
	w.clock.SetTime(t0.Add(4 * time.Minute))
	if err := h.Check(); err == nil {
		t.Fatal("leader without a successful scan for 4m is healthy")
	}
	w.scanAt(4 * time.Minute)
	if err := h.Check(); err != nil {
		t.Fatalf("unhealthy right after a scan: %v", err)
	}
	h.SetLeading(false)
	w.clock.SetTime(t0.Add(time.Hour))
	if err := h.Check(); err != nil {
		t.Fatalf("replica that stopped leading unhealthy: %v", err)
	}
}
