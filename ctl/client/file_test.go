package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/calc/datastore"
	filestore "github.com/palisadenet/palisade/calc/datastore/file"
)

func newFile(t *testing.T) (*File, string) {
	t.Helper()
	dir := t.TempDir()
	f, err := NewFile(dir, Options{Now: func() time.Time { return time.Unix(0, 0) }, NewUID: func() string { return "uid" }})
	if err != nil {
		t.Fatal(err)
	}
	return f, dir
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustKind(t *testing.T, name string) *Kind {
	t.Helper()
	k, err := LookupKind(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const poolA = `# pool A, kept by hand
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: a
spec:
  cidr: 10.1.0.0/24
`

const poolB = `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: b
spec:
  cidr: 10.2.0.0/24  # comment kept while b is untouched
`

// TestFileUpdatesInPlace: an object that lives in a multi-document file is replaced and
// deleted there; the other documents keep their bytes, comments included.
func TestFileUpdatesInPlace(t *testing.T) {
	f, dir := newFile(t)
	ctx := context.Background()
	path := filepath.Join(dir, "pools.yaml")
	write(t, path, poolA+"---\n"+poolB)
	pool := mustKind(t, "ippool")

	obj, err := f.Get(ctx, pool, "", "a")
	if err != nil {
		t.Fatal(err)
	}
	obj.(*v3.IPPool).Spec.CIDR = "10.9.0.0/24"
	if _, err := f.Update(ctx, obj); err != nil {
		t.Fatal(err)
	}
	got := read(t, path)
	if !strings.HasPrefix(got, "# pool A, kept by hand\n") || !strings.Contains(got, "cidr: 10.9.0.0/24") || !strings.HasSuffix(got, "---\n"+poolB) {
		t.Errorf("after update:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "ippool")); !os.IsNotExist(err) {
		t.Errorf("update wrote a new file instead of updating in place: %v", err)
	}

	if _, err := f.Delete(ctx, pool, "", "a"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, path); got != poolB {
		t.Errorf("after delete of a:\n%q\nwant\n%q", got, poolB)
	}
	if _, err := f.Delete(ctx, pool, "", "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a file with no documents left should be removed: %v", err)
	}
	if _, err := f.Get(ctx, pool, "", "b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("get after delete: %v", err)
	}
}

// TestFileListItems: objects inside a kind: List are updated and deleted as items.
func TestFileListItems(t *testing.T) {
	f, dir := newFile(t)
	ctx := context.Background()
	path := filepath.Join(dir, "list.json")
	write(t, path, `{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"crd.projectcalico.org/v1","kind":"IPPool","metadata":{"name":"a"},"spec":{"cidr":"10.1.0.0/24"}},
 {"apiVersion":"projectcalico.org/v3","kind":"IPPool","metadata":{"name":"b"},"spec":{"cidr":"10.2.0.0/24"}}]}`)
	pool := mustKind(t, "ippool")
	obj, err := f.Get(ctx, pool, "", "b")
	if err != nil {
		t.Fatal(err)
	}
	obj.(*v3.IPPool).Spec.NodeSelector = "zone == 'east'"
	if _, err := f.Update(ctx, obj); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Delete(ctx, pool, "", "a"); err != nil {
		t.Fatal(err)
	}
	objs, err := f.List(ctx, pool, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].(*v3.IPPool).Spec.NodeSelector != "zone == 'east'" {
		t.Errorf("after update and delete in a List: %+v", objs)
	}
	if got := read(t, path); !strings.HasPrefix(got, "{") || strings.Contains(got, `"a"`) {
		t.Errorf("list file:\n%s", got)
	}
}

// TestFileWritesSeenByDatastore: what the backend writes, the agent's file datastore
// reads, with nothing half-written in between (temporary files are hidden).
func TestFileWritesSeenByDatastore(t *testing.T) {
	f, dir := newFile(t)
	ctx := context.Background()
	ds := filestore.New(dir, zap.NewNop(), filestore.Options{NoWatch: true})
	pool := &v3.IPPool{Spec: v3.IPPoolSpec{CIDR: "10.5.0.0/16"}}
	pool.Name = "p"
	if _, err := f.Create(ctx, pool); err != nil {
		t.Fatal(err)
	}
	np := &v3.NetworkPolicy{Spec: v3.NetworkPolicySpec{Selector: "all()"}}
	np.Name, np.Namespace = "np", "prod"
	if _, err := f.Create(ctx, np); err != nil {
		t.Fatal(err)
	}
	ev, err := ds.Scan()
	if err != nil || len(ev.Errors) > 0 {
		t.Fatal(err, ev.Errors)
	}
	var keys []string
	for _, u := range ev.Updates {
		keys = append(keys, u.Key.String())
	}
	if diff := cmp.Diff([]string{"IPPool p", "NetworkPolicy prod/np"}, keys); diff != "" {
		t.Errorf("datastore keys (-want +got):\n%s", diff)
	}
	for _, p := range []string{"ippool/p.yaml", "networkpolicy/prod.np.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("want %s: %v", p, err)
		}
	}
	if _, err := f.Create(ctx, pool.DeepCopy()); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("second create: %v", err)
	}
	if _, err := f.Delete(ctx, mustKind(t, "ippool"), "", "p"); err != nil {
		t.Fatal(err)
	}
	ev, err = ds.Scan()
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Updates) != 1 || ev.Updates[0].Key != (datastore.Key{Kind: "IPPool", Name: "p"}) || ev.Updates[0].Object != nil {
		t.Errorf("datastore after delete: %+v", ev.Updates)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "ippool"))
	for _, e := range entries {
		t.Errorf("left behind: %s", e.Name())
	}
}

// TestFileSkipsBrokenFiles: a manifest that does not decode is ignored with a warning,
// as the file datastore ignores it, and does not block the rest.
func TestFileSkipsBrokenFiles(t *testing.T) {
	f, dir := newFile(t)
	write(t, filepath.Join(dir, "broken.yaml"), "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: x}\nspec: {cidr: 10.0.0.0/8, bogus: 1}\n")
	write(t, filepath.Join(dir, "ok.yaml"), poolB)
	objs, err := f.List(context.Background(), mustKind(t, "ippool"), "")
	if err != nil || len(objs) != 1 {
		t.Fatalf("list: %v %v", objs, err)
	}
	w := f.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "broken.yaml") || !strings.Contains(w[0], "spec.bogus: unknown field") {
		t.Errorf("warnings: %v", w)
	}
}

func TestLookupKind(t *testing.T) {
	for name, want := range map[string]string{
		"ippool": "IPPool", "IPPools": "IPPool", "pool": "IPPool", "ippools.crd.projectcalico.org": "IPPool",
		"gnp": "GlobalNetworkPolicy", "policy": "NetworkPolicy", "networkpolicies.projectcalico.org": "NetworkPolicy",
		"hep": "HostEndpoint", "bgpPeer": "BGPPeer", "felixconfig": "FelixConfiguration", "ipamblocks": "IPAMBlock",
	} {
		k, err := LookupKind(name)
		if err != nil || k.Kind != want {
			t.Errorf("LookupKind(%q) = %v, %v; want %s", name, k, err, want)
		}
	}
	if _, err := LookupKind("pods"); err == nil || !strings.Contains(err.Error(), `unknown resource type "pods"`) {
		t.Errorf("LookupKind(pods): %v", err)
	}
	kinds, err := Kinds()
	if err != nil || len(kinds) != len(v3.AllKinds()) {
		t.Errorf("Kinds: %d kinds, %v; want %d", len(kinds), err, len(v3.AllKinds()))
	}
}

// TestSharedConfigExample: the calicoctl.cfg users have parses.
func TestSharedConfigExample(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.cfg")
	write(t, path, `# The client config file format users already have (calicoctl.cfg).
apiVersion: projectcalico.org/v3
kind: CalicoAPIConfig
metadata:
spec:
  datastoreType: 'kubernetes'
  kubeconfig: '/etc/kubernetes/admin.conf'
`)
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.DatastoreType != DatastoreKubernetes || c.Kubeconfig != "/etc/kubernetes/admin.conf" {
		t.Errorf("config: %+v", c)
	}
	env := map[string]string{"DATASTORE_DIR": "/d"}
	c, err = ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || c.DatastoreType != DatastoreFile || c.DatastoreDir != "/d" {
		t.Errorf("DATASTORE_DIR alone: %+v %v", c, err)
	}
}

// TestFileUnchangedNotRewritten: replacing an object with itself writes nothing, so the
// file datastore's watchers see no change.
func TestFileUnchangedNotRewritten(t *testing.T) {
	f, dir := newFile(t)
	ctx := context.Background()
	path := filepath.Join(dir, "pools.yaml")
	write(t, path, poolA+"---\n"+poolB)
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(path)
	obj, err := f.Get(ctx, mustKind(t, "ippool"), "", "b")
	if err != nil {
		t.Fatal(err)
	}
	// b's document has a comment the encoder would drop: rewrite it once...
	if _, err := f.Update(ctx, obj); err != nil {
		t.Fatal(err)
	}
	mid, _ := os.Stat(path)
	if mid.ModTime().Equal(before.ModTime()) {
		t.Fatal("the first update should rewrite b's document")
	}
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	// ...then the same update again changes nothing.
	if _, err := f.Update(ctx, obj.DeepCopyObject()); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	if !after.ModTime().Equal(old) {
		t.Errorf("an unchanged object was rewritten (mtime %v)", after.ModTime())
	}
}

// TestFileIPAMKindsTakeTheIPAMLock: writing an IPAM kind waits for routing/ipam's lock
// (held here as an allocator would), and lands where the IPAM file store reads.
func TestFileIPAMKindsTakeTheIPAMLock(t *testing.T) {
	f, dir := newFile(t)
	if err := os.MkdirAll(filepath.Join(dir, "ipam"), 0o755); err != nil {
		t.Fatal(err)
	}
	unlock, err := flockFile(filepath.Join(dir, "ipam", ".lock"))
	if err != nil {
		t.Fatal(err)
	}
	h := &v3.IPAMHandle{Spec: v3.IPAMHandleSpec{HandleID: "k8s-pod-network.x", Block: map[string]int{"10.0.0.0/26": 1}}}
	h.Name = "k8s-pod-network.x"
	done := make(chan error, 1)
	go func() {
		_, err := f.Create(context.Background(), h)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("created while the IPAM lock was held (err %v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ipam", "handles", "k8s-pod-network.x.yaml")); err != nil {
		t.Errorf("handle not where the IPAM store reads: %v", err)
	}
	// Policies do not wait for IPAM.
	unlock, err = flockFile(filepath.Join(dir, "ipam", ".lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	np := &v3.NetworkPolicy{}
	np.Name, np.Namespace = "np", "prod"
	if _, err := f.Create(context.Background(), np); err != nil {
		t.Fatal(err)
	}
}
