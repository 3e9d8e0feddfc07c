package ipam

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	v3 "github.com/palisadenet/palisade/api/v3"
	"go.uber.org/zap/zaptest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// testPool builds an IPPool; mods adjust its spec.
func testPool(name, cidr string, blockSize int, mods ...func(*v3.IPPoolSpec)) v3.IPPool {
	p := v3.IPPool{
		TypeMeta:   metav1.TypeMeta{APIVersion: v3.SchemeGroupVersion.String(), Kind: v3.KindIPPool},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v3.IPPoolSpec{CIDR: cidr, BlockSize: blockSize},
	}
	for _, m := range mods {
		m(&p.Spec)
	}
	return p
}

func disabled(s *v3.IPPoolSpec) { t := true; s.Disabled = &t }

func nodeSelector(sel string) func(*v3.IPPoolSpec) {
	return func(s *v3.IPPoolSpec) { s.NodeSelector = sel }
}

func testReservation(name string, cidrs ...string) v3.IPReservation {
	return v3.IPReservation{
		TypeMeta:   metav1.TypeMeta{APIVersion: v3.SchemeGroupVersion.String(), Kind: v3.KindIPReservation},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v3.IPReservationSpec{ReservedCIDRs: cidrs},
	}
}

// storeKind builds a fresh Store holding pools and reservations.
type storeKind struct {
	name string
	make func(t testing.TB, pools []v3.IPPool, res []v3.IPReservation) Store
}

var storeKinds = []storeKind{
	{"memory", func(_ testing.TB, pools []v3.IPPool, res []v3.IPReservation) Store {
		return NewMemoryStore(pools, res)
	}},
	{"file", func(t testing.TB, pools []v3.IPPool, res []v3.IPReservation) Store {
		dir := t.TempDir()
		writeManifests(t, dir, pools, res)
		s, err := NewFileStore(dir, zaptest.NewLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

// writeManifests writes pools and reservations as YAML files into dir, as a user would.
func writeManifests(t testing.TB, dir string, pools []v3.IPPool, res []v3.IPReservation) {
	t.Helper()
	write := func(name string, obj any) {
		data, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pools {
		write("pool-"+p.Name, p)
	}
	for _, r := range res {
		write("reservation-"+r.Name, r)
	}
}

// forEachStore runs f as a subtest per Store implementation.
func forEachStore(t *testing.T, pools []v3.IPPool, res []v3.IPReservation, f func(t *testing.T, s Store, a *Allocator)) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			s := k.make(t, pools, res)
			f(t, s, New(s, zaptest.NewLogger(t)))
		})
	}
}

func mustAssign(t testing.TB, a *Allocator, args AssignArgs) []Assignment {
	t.Helper()
	got, err := a.Assign(context.Background(), args)
	if err != nil {
		t.Fatalf("Assign(%+v): %v", args, err)
	}
	return got
}

func addrsOf(as []Assignment) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Addr.String()
	}
	return out
}

// allocations maps every allocated address to its handle, read from the store.
func allocations(t testing.TB, s Store) map[netip.Addr]string {
	t.Helper()
	blocks, err := s.Blocks().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[netip.Addr]string{}
	for _, b := range blocks {
		cidr, err := parseBlock(b)
		if err != nil {
			t.Fatalf("stored block invalid: %v", err)
		}
		for ord, idx := range b.Spec.Allocations {
			if idx == nil {
				continue
			}
			addr := addrAt(cidr, ord)
			if prev, dup := out[addr]; dup {
				t.Fatalf("%s allocated twice (%s and %s)", addr, prev, handleOf(b.Spec.Attributes[*idx]))
			}
			out[addr] = handleOf(b.Spec.Attributes[*idx])
		}
	}
	return out
}

func mustCheckClean(t testing.TB, a *Allocator, live map[string]bool) CheckReport {
	t.Helper()
	r, err := a.Check(context.Background(), live)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("Check found problems: %+v", r)
	}
	return r
}

func netipAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
