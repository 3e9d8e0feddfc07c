package ipam

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v3 "github.com/palisadenet/palisade/api/v3"
)

func TestReleaseByHandleIsExact(t *testing.T) {
	pools := []v3.IPPool{testPool("p", "10.0.0.0/24", 29), testPool("v6", "fd00::/120", 125)}
	forEachStore(t, pools, nil, func(t *testing.T, s Store, a *Allocator) {
		ctx := context.Background()
		// Handle a spans two blocks and both families; b sits between its addresses.
		mustAssign(t, a, AssignArgs{Handle: "a", Node: "n1", Num4: 6, Num6: 1})
		mustAssign(t, a, AssignArgs{Handle: "b", Node: "n1", Num4: 4, Num6: 1})
		mustAssign(t, a, AssignArgs{Handle: "a", Node: "n1", Num4: 1})
		before := allocations(t, s)
		if err := a.ReleaseByHandle(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		after := allocations(t, s)
		want := map[netip.Addr]string{}
		for addr, h := range before {
			if h == "b" {
				want[addr] = h
			}
		}
		if diff := cmp.Diff(want, after); diff != "" {
			t.Errorf("after releasing a (-want +got):\n%s", diff)
		}
		if _, err := s.Handles().Get(ctx, "a"); !errors.Is(err, ErrNotFound) {
			t.Errorf("handle a still stored: %v", err)
		}
		for _, h := range []string{"a", "never-existed"} {
			if err := a.ReleaseByHandle(ctx, h); err != nil {
				t.Errorf("ReleaseByHandle(%q) again = %v, want nil (idempotent)", h, err)
			}
		}
		mustCheckClean(t, a, nil)
	})
}

func TestReleasedAddressesGoToTheBackOfTheQueue(t *testing.T) {
	s := NewMemoryStore([]v3.IPPool{testPool("p", "10.0.0.0/29", 29)}, nil)
	a := New(s, nil)
	mustAssign(t, a, AssignArgs{Handle: "a", Node: "n", Num4: 1}) // .0
	mustAssign(t, a, AssignArgs{Handle: "b", Node: "n", Num4: 1}) // .1
	if err := a.ReleaseByHandle(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range []string{"c", "d", "e", "f", "g", "h", "i"} {
		got = append(got, addrsOf(mustAssign(t, a, AssignArgs{Handle: h, Node: "n", Num4: 1}))...)
	}
	// .0 was freed first but is reused last: the longest-free address goes first.
	want := []string{"10.0.0.2/32", "10.0.0.3/32", "10.0.0.4/32", "10.0.0.5/32", "10.0.0.6/32", "10.0.0.7/32", "10.0.0.0/32"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestReleaseIP(t *testing.T) {
	pools := []v3.IPPool{testPool("p", "10.0.0.0/24", 28)}
	forEachStore(t, pools, nil, func(t *testing.T, s Store, a *Allocator) {
		ctx := context.Background()
		got := mustAssign(t, a, AssignArgs{Handle: "a", Node: "n1", Num4: 2})
		if err := a.ReleaseIP(ctx, got[0].Addr.Addr()); err != nil {
			t.Fatal(err)
		}
		h, err := s.Handles().Get(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]int{"10.0.0.0/28": 1}, h.Spec.Block); diff != "" {
			t.Errorf("handle after releasing one of two (-want +got):\n%s", diff)
		}
		if err := a.ReleaseIP(ctx, got[0].Addr.Addr()); !errors.Is(err, ErrNotAllocated) {
			t.Errorf("second release = %v, want ErrNotAllocated", err)
		}
		if err := a.ReleaseIP(ctx, netip.MustParseAddr("192.0.2.1")); !errors.Is(err, ErrNotAllocated) {
			t.Errorf("release outside every block = %v, want ErrNotAllocated", err)
		}
		if err := a.ReleaseIP(ctx, got[1].Addr.Addr()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Handles().Get(ctx, "a"); !errors.Is(err, ErrNotFound) {
			t.Errorf("handle holding nothing still stored: %v", err)
		}
		mustCheckClean(t, a, nil)
	})
}

func TestFixedAddresses(t *testing.T) {
	pools := []v3.IPPool{testPool("p", "10.0.0.0/24", 26)}
	forEachStore(t, pools, nil, func(t *testing.T, s Store, a *Allocator) {
		ctx := context.Background()
		fixed := netip.MustParseAddr("10.0.0.77")
		got := mustAssign(t, a, AssignArgs{Handle: "a", Node: "n1", Fixed: []netip.Addr{fixed}})
		if got[0].Block.String() != "10.0.0.64/26" {
			t.Errorf("block = %s, want 10.0.0.64/26", got[0].Block)
		}
		b, err := s.Blocks().Get(ctx, "10-0-0-64-26")
		if err != nil {
			t.Fatal(err)
		}
		if blockNode(b) != "n1" {
			t.Errorf("a fixed address in an unclaimed block claims it for the node; affinity %v", b.Spec.Affinity)
		}
		_, err = a.Assign(ctx, AssignArgs{Handle: "b", Node: "n2", Fixed: []netip.Addr{fixed}})
		if !errors.Is(err, ErrAddressInUse) {
			t.Errorf("second claim of %s: err = %v, want ErrAddressInUse", fixed, err)
		}
		// Another node may take a fixed address from n1's block.
		mustAssign(t, a, AssignArgs{Handle: "c", Node: "n2", Fixed: []netip.Addr{netip.MustParseAddr("10.0.0.78")}})
		// Auto-assignment on n1 skips what the fixed requests took.
		auto := mustAssign(t, a, AssignArgs{Handle: "d", Node: "n1", Num4: 1})
		if auto[0].Addr.String() != "10.0.0.64/32" {
			t.Errorf("auto = %v, want 10.0.0.64/32", auto)
		}
		mustCheckClean(t, a, nil)
	})
}

func TestIPv6Blocks(t *testing.T) {
	s := NewMemoryStore([]v3.IPPool{testPool("v6", "fd00:10:244::/120", 126)}, nil)
	a := New(s, nil)
	got := mustAssign(t, a, AssignArgs{Handle: "h", Node: "n", Num6: 6})
	want := []string{"fd00:10:244::/128", "fd00:10:244::1/128", "fd00:10:244::2/128", "fd00:10:244::3/128", "fd00:10:244::4/128", "fd00:10:244::5/128"}
	if diff := cmp.Diff(want, addrsOf(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := s.Blocks().Get(context.Background(), "fd00-10-244--4-126"); err != nil {
		t.Errorf("second block not stored under Calico's name: %v", err)
	}
}

func TestBlockArithmetic(t *testing.T) {
	tests := []struct {
		cidr string
		ord  int
		addr string
	}{
		{"10.0.0.0/26", 0, "10.0.0.0"},
		{"10.0.0.192/26", 63, "10.0.0.255"},
		{"10.0.240.0/20", 4095, "10.0.255.255"},
		{"fd00::ff00/120", 255, "fd00::ffff"},
		{"fd00:0:0:1::f000/116", 4095, "fd00:0:0:1::ffff"},
	}
	for _, tc := range tests {
		cidr := netip.MustParsePrefix(tc.cidr)
		if got := addrAt(cidr, tc.ord); got.String() != tc.addr {
			t.Errorf("addrAt(%s, %d) = %s, want %s", cidr, tc.ord, got, tc.addr)
		}
		if ord, ok := ordinalOf(cidr, netip.MustParseAddr(tc.addr)); !ok || ord != tc.ord {
			t.Errorf("ordinalOf(%s, %s) = %d, %v; want %d", cidr, tc.addr, ord, ok, tc.ord)
		}
	}
	if _, ok := ordinalOf(netip.MustParsePrefix("10.0.0.0/26"), netip.MustParseAddr("10.0.0.64")); ok {
		t.Error("ordinalOf accepted an address outside the block")
	}
}

func TestNames(t *testing.T) {
	tests := []struct{ got, want string }{
		{BlockName(netip.MustParsePrefix("10.244.1.0/26")), "10-244-1-0-26"},
		{BlockName(netip.MustParsePrefix("fd00:10::40/122")), "fd00-10--40-122"},
		{AffinityName("node-1", netip.MustParsePrefix("10.244.1.0/26")), "node-1-10-244-1-0-26"},
		{HandleName("k8s-pod-network.0123abcd"), "k8s-pod-network.0123abcd"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	for _, h := range []string{"k8s-pod-network.ABC", "a/b", "ipip-tunnel-addr-Node_1"} {
		n := HandleName(h)
		if !validObjectName(n) || n == HandleName(h+"x") {
			t.Errorf("HandleName(%q) = %q: not a valid, distinct object name", h, n)
		}
	}
	long := AffinityName(strings.Repeat("n", 260), netip.MustParsePrefix("10.0.0.0/26"))
	if len(long) > maxNameLen || !validObjectName(long) {
		t.Errorf("long affinity name %q (%d chars) is not a valid object name", long, len(long))
	}
}

// A second allocator (another process) frees an address in a block the first one's
// cache remembers as full: the first must reuse it before claiming a new block.
func TestStaleCacheDoesNotHideFreedAddresses(t *testing.T) {
	pools := []v3.IPPool{testPool("p", "10.0.0.0/24", 28)}
	forEachStore(t, pools, nil, func(t *testing.T, s Store, a1 *Allocator) {
		a2 := New(s, nil)
		full := mustAssign(t, a1, AssignArgs{Handle: "fill", Node: "n1", Num4: 16})
		if err := a2.ReleaseIP(context.Background(), full[5].Addr.Addr()); err != nil {
			t.Fatal(err)
		}
		got := mustAssign(t, a1, AssignArgs{Handle: "next", Node: "n1", Num4: 1})
		if got[0].Addr != full[5].Addr {
			t.Errorf("got %v, want the freed %v from the node's own block", got[0].Addr, full[5].Addr)
		}
		// And a block the cache believes is free but another process filled is not
		// double-allocated: the write carries the cached resourceVersion.
		mustAssign(t, a2, AssignArgs{Handle: "other", Node: "n1", Num4: 1}) // a2 claims 10.0.0.16/28
		mustAssign(t, a1, AssignArgs{Handle: "mine", Node: "n1", Num4: 1})
		allocations(t, s) // fails on any address held twice
		mustCheckClean(t, a1, nil)
	})
}

func TestAddressesByHandle(t *testing.T) {
	pools := []v3.IPPool{testPool("p", "10.0.0.0/24", 29), testPool("v6", "fd00::/120", 0)}
	forEachStore(t, pools, nil, func(t *testing.T, s Store, a *Allocator) {
		ctx := context.Background()
		want := mustAssign(t, a, AssignArgs{Handle: "h", Node: "n1", Num4: 10, Num6: 1})
		mustAssign(t, a, AssignArgs{Handle: "other", Node: "n1", Num4: 1})
		got, err := a.AddressesByHandle(ctx, "h")
		if err != nil {
			t.Fatal(err)
		}
		cmpPrefix := cmp.Comparer(func(x, y netip.Prefix) bool { return x == y })
		if diff := cmp.Diff(want, got, cmpPrefix); diff != "" {
			t.Errorf("(-assigned +by handle):\n%s", diff)
		}
		if err := s.Handles().Delete(ctx, "h", ""); err != nil { // lost handle: found by scanning
			t.Fatal(err)
		}
		if got, err := a.AddressesByHandle(ctx, "h"); err != nil || len(got) != len(want) {
			t.Errorf("without the handle object: %v, %v; want %d addresses", got, err, len(want))
		}
		if got, err := a.AddressesByHandle(ctx, "unknown"); err != nil || len(got) != 0 {
			t.Errorf("unknown handle: %v, %v; want nothing", got, err)
		}
	})
}
