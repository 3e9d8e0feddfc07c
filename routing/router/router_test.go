package router

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/zap"

	"github.com/palisadenet/palisade/routing/bgp"
	"github.com/palisadenet/palisade/routing/routes"
)

type fakeApplier struct {
	last      routes.Plan
	keptStale bool
}

func (f *fakeApplier) Apply(p routes.Plan) (routes.Stats, error) {
	f.last, f.keptStale = p, false
	return routes.Stats{}, nil
}

func (f *fakeApplier) ApplyKeepingStale(p routes.Plan) (routes.Stats, error) {
	f.last, f.keptStale = p, true
	return routes.Stats{}, nil
}

func TestRouterKeepsStaleRoutesUntilBGPSettles(t *testing.T) {
	f := &fakeApplier{}
	r := New(f, true, zap.NewNop())
	r.SetInput(input())
	mustSync(t, r)
	if !f.keptStale {
		t.Error("with BGP unsettled the sync deleted stale routes")
	}
	r.BGPSettled()
	mustSync(t, r)
	if f.keptStale {
		t.Error("after BGPSettled stale routes are still kept")
	}
	noBGP := New(f, false, zap.NewNop())
	noBGP.SetInput(input())
	mustSync(t, noBGP)
	if f.keptStale {
		t.Error("without BGP there is nothing to wait for, yet stale routes were kept")
	}
}

var (
	pfx   = netip.MustParsePrefix
	addr  = netip.MustParseAddr
	ipCmp = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})
)

func input() routes.Input {
	mac, _ := net.ParseMAC("66:00:00:00:00:02")
	return routes.Input{
		Local: routes.LocalNode{Name: "n1", Address: pfx("192.168.50.1/24"), Interface: "eth0"},
		Pools: []routes.Pool{
			{CIDR: pfx("172.20.0.0/16"), IPIPMode: routes.EncapCrossSubnet},
			{CIDR: pfx("172.30.0.0/16"), VXLANMode: routes.EncapAlways},
		},
		Blocks: []routes.Block{
			{CIDR: pfx("172.20.0.0/26"), Node: "n1"},
			{CIDR: pfx("172.20.0.64/26"), Node: "n2"},
			{CIDR: pfx("172.30.0.0/26"), Node: "n2"},
		},
		Nodes: []routes.RemoteNode{{Name: "n2", IP: addr("192.168.50.2"), VTEPIP: addr("172.30.0.1"), VTEPMAC: mac}},
	}
}

func TestRouterKeepsKernelUntilDatastoreView(t *testing.T) {
	f := &countingApplier{}
	r := New(f, true, zap.NewNop())
	r.OnRoute(bgp.RouteEvent{Prefix: pfx("172.20.0.64/26"), NextHop: addr("192.168.50.2")})
	mustSync(t, r)
	if f.count() != 0 {
		t.Fatalf("applied %d plans before the datastore view arrived (would flush routes of a previous run)", f.count())
	}
	r.SetInput(input())
	mustSync(t, r)
	if f.count() != 1 || len(f.lastPlan().Routes) != 3 {
		t.Errorf("after the view: %d applies, plan %v", f.count(), f.lastPlan().Routes)
	}
}

func TestRouterMergesBGPAndDatastore(t *testing.T) {
	f := &fakeApplier{}
	r := New(f, true, zap.NewNop())
	r.OnRoute(bgp.RouteEvent{Prefix: pfx("172.20.0.64/26"), NextHop: addr("192.168.50.2")})
	r.SetInput(input())
	r.OnRoute(bgp.RouteEvent{Prefix: pfx("10.99.0.0/24"), NextHop: addr("192.168.50.254")}) // external, outside pools
	r.OnRoute(bgp.RouteEvent{Prefix: pfx("172.20.0.0/26"), NextHop: addr("192.168.50.2")})  // our own block: blackhole stays
	r.OnRoute(bgp.RouteEvent{Prefix: pfx("10.98.0.0/24"), NextHop: addr("10.1.1.1")})       // unreachable next hop
	mustSync(t, r)
	want := []routes.Route{
		{Dst: pfx("10.99.0.0/24"), Kind: routes.KindNative, Device: "eth0", Gateway: addr("192.168.50.254")},
		{Dst: pfx("172.20.0.0/26"), Kind: routes.KindBlackhole},
		{Dst: pfx("172.20.0.64/26"), Kind: routes.KindNative, Device: "eth0", Gateway: addr("192.168.50.2")},
		{Dst: pfx("172.30.0.0/26"), Kind: routes.KindVXLAN, Device: "vxlan.calico", Gateway: addr("172.30.0.1"), OnLink: true},
	}
	if diff := cmp.Diff(want, f.last.Routes, ipCmp); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	if _, problems := r.Plan(); len(problems) != 1 || problems[0].Dst != pfx("10.98.0.0/24") {
		t.Errorf("problems = %v, want the unreachable 10.98.0.0/24", problems)
	}
	r.OnRoute(bgp.RouteEvent{Prefix: pfx("172.20.0.64/26"), NextHop: addr("192.168.50.2"), Withdraw: true})
	mustSync(t, r)
	for _, rt := range f.last.Routes {
		if rt.Dst == pfx("172.20.0.64/26") {
			t.Errorf("withdrawn route still planned: %v", rt)
		}
	}
}

func TestRouterWithoutBGPRoutesEveryBlockFromDatastore(t *testing.T) {
	f := &fakeApplier{}
	r := New(f, false, zap.NewNop())
	r.SetInput(input())
	mustSync(t, r)
	var dsts []string
	for _, rt := range f.last.Routes {
		dsts = append(dsts, rt.String())
	}
	want := []string{
		"blackhole 172.20.0.0/26",
		"native 172.20.0.64/26 via 192.168.50.2 dev eth0",
		"vxlan 172.30.0.0/26 via 172.30.0.1 dev vxlan.calico onlink",
	}
	if diff := cmp.Diff(want, dsts); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	if len(f.last.Neighbors) != 1 || len(f.last.FDB) != 1 {
		t.Errorf("VTEP entries = %v %v", f.last.Neighbors, f.last.FDB)
	}
}

func mustSync(t *testing.T, r *Router) {
	t.Helper()
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
}

func TestRunCoalescesBursts(t *testing.T) {
	f := &countingApplier{}
	r := New(f, true, zap.NewNop())
	r.SetInput(input())
	for i := range 1000 {
		r.OnRoute(bgp.RouteEvent{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 200, byte(i >> 8), byte(i)}), 32), NextHop: addr("192.168.50.2")})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx, time.Hour); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for f.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-done
	if n := f.count(); n != 1 {
		t.Errorf("1001 changes before Run caused %d kernel syncs, want 1", n)
	}
	if got := len(f.lastPlan().Routes); got != 1002 {
		t.Errorf("synced plan has %d routes, want 1002", got)
	}
}

type countingApplier struct {
	mu   sync.Mutex
	n    int
	plan routes.Plan
}

func (c *countingApplier) Apply(p routes.Plan) (routes.Stats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	c.plan = p
	return routes.Stats{}, nil
}

func (c *countingApplier) ApplyKeepingStale(p routes.Plan) (routes.Stats, error) { return c.Apply(p) }

func (c *countingApplier) count() int { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

func (c *countingApplier) lastPlan() routes.Plan { c.mu.Lock(); defer c.mu.Unlock(); return c.plan }
