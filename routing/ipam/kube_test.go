package ipam

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/test/controlplane"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"k8s.io/client-go/rest"
)

func repoDir(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot find the test's source directory")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// TestKubernetesStore runs the allocator against a real etcd + kube-apiserver with the
// projectcalico.org/v3 CRDs installed. It skips (with the reason) where the control
// plane cannot start.
func TestKubernetesStore(t *testing.T) {
	etcdOnTmpfs(t)
	cp := controlplane.Start(t)
	cp.InstallCRDs(t, filepath.Join(repoDir(t), "manifests", "crds", "v3"))
	store := newKubeStore(t, cp)
	t.Run("compare and swap", func(t *testing.T) { testObjectsCAS(t, store) })
	t.Run("random sequence", func(t *testing.T) {
		defer wipe(t, store)
		createPools(t, store, testPool("small", "10.0.0.0/27", 29), testPool("v6", "fd00::/122", 125))
		createReservation(t, store, testReservation("r", "10.0.0.3", "10.0.0.16/30"))
		for seed := range 2 {
			runRandomSequence(t, store, New(store, nil), randFor(uint64(seed)), 60)
		}
	})
	t.Run("4 nodes allocate 10000 addresses", func(t *testing.T) {
		defer wipe(t, store)
		testTenThousand(t, store, func() Store { return newKubeStore(t, cp) })
	})
	t.Run("allocator killed mid-allocation", func(t *testing.T) {
		defer wipe(t, store)
		testKilledAllocator(t, store, cp.Kubeconfig)
	})
	t.Run("legacy group crd.projectcalico.org/v1", func(t *testing.T) {
		cp.InstallCRDs(t, filepath.Join(repoDir(t), "manifests", "crds", "legacy"))
		cfg := rest.CopyConfig(cp.Config)
		cfg.QPS = -1
		legacy, err := NewKubernetesStoreForGroup(cfg, v3.LegacyGroupVersion, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer wipe(t, legacy)
		testObjectsCAS(t, legacy)
		createPools(t, legacy, testPool("legacy", "10.5.0.0/24", 28))
		a := New(legacy, nil)
		got := mustAssign(t, a, podArgs("h", "n1", "default", "web"))
		if got[0].Addr.String() != "10.5.0.0/32" {
			t.Errorf("got %v, want 10.5.0.0/32", got)
		}
		if err := legacy.client.Get().Resource("ipamblocks").Name("10-5-0-0-28").Do(context.Background()).Into(&v3.IPAMBlock{}); err != nil {
			t.Fatalf("block not stored in the legacy group: %v", err)
		}
		if v3Blocks, _ := store.Blocks().List(context.Background()); len(v3Blocks) != 0 {
			t.Errorf("legacy store wrote %d blocks into projectcalico.org/v3", len(v3Blocks))
		}
		if err := a.ReleaseByHandle(context.Background(), "h"); err != nil {
			t.Fatal(err)
		}
		mustCheckClean(t, a, nil)
	})
}

// etcdOnTmpfs puts the test's temporary directory, and so etcd's data, on /dev/shm when
// it exists. On this project's shared 2-core VM etcd's WAL fsync takes 5-15 ms and caps
// the apiserver at a few dozen writes a second, which would measure the disk, not IPAM.
// Set PALISADE_IPAM_ETCD_ON_DISK=1 to keep etcd on disk.
func etcdOnTmpfs(t testing.TB) {
	if os.Getenv("PALISADE_IPAM_ETCD_ON_DISK") != "" {
		return
	}
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		t.Setenv("TMPDIR", "/dev/shm")
	}
}

// newKubeStore is one node's client: its own connection and no client-side rate
// limit (the controlplane config's 100/s would measure the limiter, not IPAM).
func newKubeStore(t testing.TB, cp *controlplane.ControlPlane) *KubernetesStore {
	t.Helper()
	cfg := rest.CopyConfig(cp.Config)
	cfg.QPS, cfg.Burst = -1, 0
	s, err := NewKubernetesStore(cfg, zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func createPools(t *testing.T, s *KubernetesStore, pools ...v3.IPPool) {
	t.Helper()
	for _, p := range pools {
		if err := s.CreatePool(context.Background(), &p); err != nil {
			t.Fatal(err)
		}
	}
}

func createReservation(t *testing.T, s *KubernetesStore, r v3.IPReservation) {
	t.Helper()
	if err := s.client.Post().Resource("ipreservations").Body(&r).Do(context.Background()).Error(); err != nil {
		t.Fatal(err)
	}
}

// wipe deletes every IPAM object, pool and reservation.
func wipe(t *testing.T, s *KubernetesStore) {
	t.Helper()
	ctx := context.Background()
	for _, res := range []string{"ipamblocks", "blockaffinities", "ipamhandles", "ippools", "ipreservations"} {
		if err := s.client.Delete().Resource(res).Do(ctx).Error(); err != nil {
			t.Errorf("deleting all %s: %v", res, err)
		}
	}
}

// testTenThousand: 4 nodes, two workers each (kubelet runs CNI ADDs in parallel),
// allocate 10,000 addresses at once. None may be handed out twice; the apiserver must
// hold exactly what was handed out; after releasing everything nothing remains.
func testTenThousand(t *testing.T, s *KubernetesStore, nodeStore func() Store) {
	createPools(t, s, testPool("big", "10.0.0.0/16", 26))
	const nodes, workersPerNode, total = 4, 2, 10000
	perWorker := total / (nodes * workersPerNode)
	var mu sync.Mutex
	handedOut := make(map[netip.Addr]string, total)
	var wg sync.WaitGroup
	start := time.Now()
	for n := range nodes {
		a := New(nodeStore(), nil)
		for w := range workersPerNode {
			wg.Go(func() {
				for i := range perWorker {
					h := fmt.Sprintf("k8s-pod-network.n%d-w%d-%d", n, w, i)
					got, err := a.Assign(context.Background(), AssignArgs{Handle: h, Node: fmt.Sprintf("node-%d", n), Num4: 1})
					if err != nil {
						t.Errorf("node %d worker %d: %v", n, w, err)
						return
					}
					mu.Lock()
					if prev, dup := handedOut[got[0].Addr.Addr()]; dup {
						t.Errorf("%s handed out to %s and %s", got[0].Addr, prev, h)
					}
					handedOut[got[0].Addr.Addr()] = h
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d addresses in %s: %.0f/s in total, %.0f/s per node", total, elapsed.Round(time.Millisecond),
		total/elapsed.Seconds(), total/elapsed.Seconds()/nodes)
	if len(handedOut) != total {
		t.Fatalf("%d addresses handed out, want %d", len(handedOut), total)
	}
	if diff := cmp.Diff(handedOut, allocations(t, s)); diff != "" {
		t.Fatalf("apiserver differs from what was handed out (-handed out +stored):\n%s", diff)
	}
	a := New(s, nil)
	r := mustCheckClean(t, a, nil)
	t.Logf("check: %d blocks, %d handles, %d in use", r.Blocks, r.Handles, r.InUse)

	handles := make(chan string, total)
	for _, h := range handedOut {
		handles <- h
	}
	close(handles)
	start = time.Now()
	for range nodes * workersPerNode {
		wg.Go(func() {
			for h := range handles {
				if err := a.ReleaseByHandle(context.Background(), h); err != nil {
					t.Errorf("release %s: %v", h, err)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("released %d handles in %s", total, time.Since(start).Round(time.Millisecond))
	if left := allocations(t, s); len(left) != 0 {
		t.Errorf("%d addresses still allocated after releasing all", len(left))
	}
	if hs, _ := s.Handles().List(context.Background()); len(hs) != 0 {
		t.Errorf("%d handles left after releasing all", len(hs))
	}
}

// testKilledAllocator: a child process allocates on node "victim" while this process
// allocates on the same node; the child is killed with SIGKILL mid-stream. Afterwards
// no address is held twice, every address the child reported is still held by its
// handle, Check reports exactly the child's allocations as leaked (its pods do not
// exist), and releasing them leaves the survivor's allocations alone.
func testKilledAllocator(t *testing.T, s *KubernetesStore, kubeconfig string) {
	createPools(t, s, testPool("p", "10.1.0.0/22", 28))
	ctx := context.Background()
	child := startChild(t, "kube", kubeconfig, "victim", "victim", 0)
	survivor := New(s, nil)
	live := map[string]bool{}
	var wg sync.WaitGroup
	var mine []netip.Addr
	wg.Go(func() {
		for i := range 150 {
			h := fmt.Sprintf("survivor-%d", i)
			got, err := survivor.Assign(ctx, podArgs(h, "victim", "default", h))
			if err != nil {
				t.Errorf("survivor: %v", err)
				return
			}
			mine = append(mine, got[0].Addr.Addr())
			live["default/"+h] = true
		}
	})
	reported := child.readAssignments(t, func(n int) bool { return n >= 100 })
	// Land the kill somewhere inside the child's next request (it takes a few ms).
	time.Sleep(time.Duration(rand.IntN(30000)) * time.Microsecond)
	if err := child.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.cmd.Wait()
	wg.Wait()
	if len(reported) < 100 {
		t.Fatalf("child reported only %d assignments before exiting: %s", len(reported), child.stderr.String())
	}
	held := allocations(t, s) // fails on any address held twice
	for addr, h := range reported {
		if held[addr] != h {
			t.Errorf("child's %s is held by %q, want %s", addr, held[addr], h)
		}
	}
	for _, addr := range mine {
		if !strings.HasPrefix(held[addr], "survivor-") {
			t.Errorf("survivor's %s is held by %q", addr, held[addr])
		}
	}
	r, err := survivor.Check(ctx, live)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.DoubleAllocations)+len(r.Invalid) != 0 {
		t.Fatalf("check after the kill: %+v", r)
	}
	var leakedHandles, childHeld []string
	for _, l := range r.Leaked {
		leakedHandles = append(leakedHandles, l.Handle)
	}
	for _, h := range held {
		if strings.HasPrefix(h, "victim-") {
			childHeld = append(childHeld, h)
		}
	}
	sort.Strings(leakedHandles)
	sort.Strings(childHeld)
	if diff := cmp.Diff(childHeld, leakedHandles); diff != "" {
		t.Errorf("leaks reported (-child's allocations +leaked):\n%s", diff)
	}
	t.Logf("child reported %d, holds %d; check found %d leaked, %d handle mismatches", len(reported), len(childHeld), len(r.Leaked), len(r.HandleMismatches))
	for _, h := range leakedHandles {
		if err := survivor.ReleaseByHandle(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	r, err = survivor.Check(ctx, live)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Leaked) != 0 || r.InUse != len(mine) {
		t.Errorf("after releasing the leaks: %d leaked, %d in use (want 0, %d)", len(r.Leaked), r.InUse, len(mine))
	}
	for _, p := range r.HandleMismatches { // only a request cut off between its two writes may remain
		if !strings.HasPrefix(p.Object, "handle victim-") {
			t.Errorf("unexpected handle problem: %+v", p)
		}
	}
}
