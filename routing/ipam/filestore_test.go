package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/resource"
	"go.uber.org/zap/zaptest"
)

// TestFileStoreSharedByGoroutinesAndProcesses runs allocators in goroutines of this
// process and in three child processes on one directory, some on the same node so
// they fight over one block. No address may be handed out twice, and the files must
// end up holding exactly what was handed out.
func TestFileStoreSharedByGoroutinesAndProcesses(t *testing.T) {
	dir := t.TempDir()
	writeManifests(t, dir, []v3.IPPool{testPool("p", "10.0.0.0/22", 28)}, nil)
	store, err := NewFileStore(dir, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	const perWorker = 40
	nodes := []string{"n0", "n1", "n2", "n0"} // goroutines; n0 twice
	children := []*childProcess{
		startChild(t, "file", dir, "n0", "proc0", perWorker), // n0 again, from another process
		startChild(t, "file", dir, "p1", "proc1", perWorker),
		startChild(t, "file", dir, "p2", "proc2", perWorker),
	}
	var mu sync.Mutex
	handedOut := map[netip.Addr]string{}
	record := func(addr netip.Addr, h string) {
		mu.Lock()
		defer mu.Unlock()
		if prev, dup := handedOut[addr]; dup {
			t.Errorf("%s handed out to %s and %s", addr, prev, h)
		}
		handedOut[addr] = h
	}
	var wg sync.WaitGroup
	for w, node := range nodes {
		wg.Go(func() {
			a := New(store, nil)
			for i := range perWorker {
				h := fmt.Sprintf("g%d-%d", w, i)
				got, err := a.Assign(context.Background(), AssignArgs{Handle: h, Node: node, Num4: 1})
				if err != nil {
					t.Errorf("goroutine %d: %v", w, err)
					return
				}
				record(got[0].Addr.Addr(), h)
			}
		})
	}
	for _, c := range children {
		wg.Go(func() {
			for addr, h := range c.readAssignments(t, nil) {
				record(addr, h)
			}
			if err := c.cmd.Wait(); err != nil {
				t.Errorf("child: %v\n%s", err, c.stderr.String())
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if want := perWorker * (len(nodes) + len(children)); len(handedOut) != want {
		t.Fatalf("%d addresses handed out, want %d", len(handedOut), want)
	}
	if diff := cmp.Diff(handedOut, allocations(t, store)); diff != "" {
		t.Fatalf("files differ from what was handed out (-handed out +files):\n%s", diff)
	}
	a := New(store, nil)
	mustCheckClean(t, a, nil)

	// Release everything from several goroutines at once.
	handles := make(chan string, len(handedOut))
	for _, h := range handedOut {
		handles <- h
	}
	close(handles)
	for range 4 {
		wg.Go(func() {
			for h := range handles {
				if err := a.ReleaseByHandle(context.Background(), h); err != nil {
					t.Errorf("release %s: %v", h, err)
				}
			}
		})
	}
	wg.Wait()
	if left := allocations(t, store); len(left) != 0 {
		t.Errorf("%d addresses still allocated after releasing all", len(left))
	}
	if hs, _ := store.Handles().List(context.Background()); len(hs) != 0 {
		t.Errorf("%d handles left after releasing all", len(hs))
	}
}

func TestFileStoreLayoutIsLoadableManifests(t *testing.T) {
	dir := t.TempDir()
	writeManifests(t, dir, []v3.IPPool{testPool("p", "10.0.0.0/24", 26)}, nil)
	store, err := NewFileStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	mustAssign(t, New(store, nil), AssignArgs{Handle: "k8s-pod-network.abc", Node: "n1", Num4: 1})
	var files []string
	err = filepath.WalkDir(filepath.Join(dir, FileIPAMDir), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ipam/.lock", "ipam/affinities/n1-10-0-0-0-26.yaml", "ipam/blocks/10-0-0-0-26.yaml", "ipam/handles/k8s-pod-network.abc.yaml"}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	// The strict loader the file datastore uses reads every object back.
	objs, err := resource.LoadPaths([]string{dir}, nil)
	if err != nil {
		t.Fatalf("loading the directory strictly: %v", err)
	}
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.Obj.GetObjectKind().GroupVersionKind().Kind)
	}
	if diff := cmp.Diff([]string{"BlockAffinity", "IPAMBlock", "IPAMHandle", "IPPool"}, kinds); diff != "" {
		t.Errorf("kinds loaded (-want +got):\n%s", diff)
	}
}

func TestFileStoreCompareAndSwap(t *testing.T) {
	store, err := NewFileStore(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	testObjectsCAS(t, store)
}

func TestMemoryStoreCompareAndSwap(t *testing.T) { testObjectsCAS(t, NewMemoryStore(nil, nil)) }

// testObjectsCAS pins the Objects contract every Store must keep.
func testObjectsCAS(t *testing.T, s Store) {
	ctx := context.Background()
	h := &v3.IPAMHandle{Spec: v3.IPAMHandleSpec{HandleID: "x", Block: map[string]int{"10.0.0.0/26": 1}}}
	h.Name = "x"
	created, err := s.Handles().Create(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Handles().Create(ctx, h); !errors.Is(err, ErrConflict) {
		t.Errorf("second create: %v, want ErrConflict", err)
	}
	stale := created.DeepCopy()
	created.Spec.Block["10.0.0.64/26"] = 2
	updated, err := s.Handles().Update(ctx, created)
	if err != nil {
		t.Fatal(err)
	}
	if updated.ResourceVersion == stale.ResourceVersion {
		t.Error("update kept the resourceVersion")
	}
	if _, err := s.Handles().Update(ctx, stale); !errors.Is(err, ErrConflict) {
		t.Errorf("update with a stale resourceVersion: %v, want ErrConflict", err)
	}
	if err := s.Handles().Delete(ctx, "x", stale.ResourceVersion); !errors.Is(err, ErrConflict) {
		t.Errorf("delete with a stale resourceVersion: %v, want ErrConflict", err)
	}
	got, err := s.Handles().Get(ctx, "x")
	if err != nil || !cmp.Equal(got.Spec, updated.Spec) {
		t.Errorf("get = %+v, %v; want %+v", got, err, updated.Spec)
	}
	if err := s.Handles().Delete(ctx, "x", updated.ResourceVersion); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Handles().Get(ctx, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("get after delete: %v, want ErrNotFound", err)
	}
	// The apiserver answers Conflict here (the UID precondition fails); both make the
	// allocator re-read, which then finds nothing.
	if _, err := s.Handles().Update(ctx, updated); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) {
		t.Errorf("update after delete: %v, want ErrNotFound or ErrConflict", err)
	}
	if err := s.Handles().Delete(ctx, "x", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete after delete: %v, want ErrNotFound", err)
	}
}

func TestFileStoreSkipsBrokenManifests(t *testing.T) {
	dir := t.TempDir()
	writeManifests(t, dir, []v3.IPPool{testPool("p", "10.0.0.0/24", 26)}, nil)
	if err := os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("kind: NetworkPolicy\nnonsense: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := NewFileStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	got := mustAssign(t, New(store, nil), AssignArgs{Handle: "h", Node: "n", Num4: 1})
	if !strings.HasPrefix(got[0].Addr.String(), "10.0.0.") {
		t.Errorf("got %v", got)
	}
	// A pool added later is seen without reopening the store.
	writeManifests(t, dir, []v3.IPPool{testPool("q", "10.9.0.0/24", 26)}, nil)
	got = mustAssign(t, New(store, nil), AssignArgs{Handle: "h2", Node: "n", Num4: 1, Pools4: []string{"q"}})
	if got[0].Pool != "q" {
		t.Errorf("pool added after opening not used: %v", got)
	}
}
