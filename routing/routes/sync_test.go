package routes

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"

	"github.com/palisadenet/palisade/internal/netnstest/nstest"
)

// nodeNS makes a namespace that looks like a node: eth0 (a veth whose peer is in the
// same namespace) holding 192.168.40.112/24, a vxlan.calico device, and two routes
// that are not ours.
func nodeNS(t *testing.T) *nstest.NS {
	nstest.RequireRoot(t)
	n := nstest.New(t, nstest.Prefix(t)+"-node")
	n.Run(t, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
	n.Run(t, "ip", "addr", "add", "192.168.40.112/24", "dev", "eth0")
	n.Run(t, "ip", "link", "set", "eth0", "up")
	n.Run(t, "ip", "link", "set", "eth0p", "up")
	n.Run(t, "ip", "link", "add", "vxlan.calico", "type", "vxlan", "id", "4096", "dstport", "4789", "dev", "eth0")
	n.Run(t, "ip", "link", "set", "vxlan.calico", "up")
	n.Run(t, "ip", "route", "add", "10.50.0.0/24", "via", "192.168.40.1", "proto", "static")
	n.Run(t, "ip", "route", "add", "172.16.32.128/26", "via", "192.168.40.1", "table", "100", "proto", "80")
	return n
}

// kernelRoutes lists routes chosen by ip route show selectors, one per line with
// whitespace normalised. (ip omits "proto 80" when the selector names it.)
func kernelRoutes(t *testing.T, n *nstest.NS, selector ...string) []string {
	out := n.Run(t, append([]string{"ip", "-4", "route", "show"}, selector...)...)
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestSyncerReconcilesOnlyOwnRoutes(t *testing.T) {
	n := nodeNS(t)
	s := NewSyncer(n.Handle, zap.NewNop())
	in := Input{
		Local: LocalNode{Name: "me", Address: pfx("192.168.40.112/24"), Interface: "eth0"},
		Pools: []Pool{{CIDR: pfx("172.16.0.0/16")}, {CIDR: pfx("172.17.0.0/16"), VXLANMode: EncapAlways}},
		Blocks: []Block{
			{CIDR: pfx("172.16.58.192/26"), Node: "me"},
			{CIDR: pfx("172.16.32.128/26"), Node: "n101"},
			{CIDR: pfx("172.17.1.0/26"), Node: "n101"},
		},
		Borrowed: []Borrowed{{IP: addr("172.16.58.250"), Node: "n102"}},
		Nodes: []RemoteNode{
			{Name: "n101", IP: addr("192.168.40.101"), VTEPIP: addr("172.17.0.1"), VTEPMAC: mac("66:00:00:00:01:01")},
			{Name: "n102", IP: addr("192.168.40.102")},
		},
	}
	plan, problems := Decide(in)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	st, err := s.Apply(plan)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Stats{RoutesAdded: 4, NeighborsSet: 2}, st); diff != "" {
		t.Errorf("first apply stats (-want +got):\n%s", diff)
	}
	want := []string{
		"172.16.32.128/26 via 192.168.40.101 dev eth0",
		"blackhole 172.16.58.192/26",
		"172.16.58.250 via 192.168.40.102 dev eth0",
		"172.17.1.0/26 via 172.17.0.1 dev vxlan.calico onlink",
	}
	if diff := cmp.Diff(want, kernelRoutes(t, n, "proto", "80")); diff != "" {
		t.Errorf("routes with proto 80 (-want +got):\n%s", diff)
	}
	neigh := strings.Fields(n.Run(t, "ip", "neigh", "show", "dev", "vxlan.calico"))
	if diff := cmp.Diff([]string{"172.17.0.1", "lladdr", "66:00:00:00:01:01", "PERMANENT"}, neigh); diff != "" {
		t.Errorf("neighbours (-want +got):\n%s", diff)
	}
	fdb := n.Run(t, "bridge", "fdb", "show", "dev", "vxlan.calico")
	if !strings.Contains(fdb, "66:00:00:00:01:01 dst 192.168.40.101 self permanent") {
		t.Errorf("fdb lacks the VTEP entry:\n%s", fdb)
	}

	// Nothing changes on a second apply.
	if st, err := s.Apply(plan); err != nil || st != (Stats{}) {
		t.Errorf("second apply: stats %+v err %v, want no changes", st, err)
	}

	// The node moves, a block is released, the pool leaves VXLAN.
	in.Nodes[0].IP = addr("192.168.40.111")
	in.Blocks = in.Blocks[:2]
	in.Borrowed = nil
	plan, _ = Decide(in)
	st, err = s.Apply(plan)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Stats{RoutesReplaced: 1, RoutesDeleted: 2, NeighborsDeleted: 2}, st); diff != "" {
		t.Errorf("second plan stats (-want +got):\n%s", diff)
	}
	want = []string{
		"172.16.32.128/26 via 192.168.40.111 dev eth0",
		"blackhole 172.16.58.192/26",
	}
	if diff := cmp.Diff(want, kernelRoutes(t, n, "proto", "80")); diff != "" {
		t.Errorf("routes after change (-want +got):\n%s", diff)
	}
	if out := n.Run(t, "ip", "neigh", "show", "dev", "vxlan.calico", "nud", "permanent"); strings.TrimSpace(out) != "" {
		t.Errorf("stale neighbour left: %q", out)
	}

	// Routes that are not ours survive everything, including an empty plan.
	if _, err := s.Apply(Plan{}); err != nil {
		t.Fatal(err)
	}
	if got := kernelRoutes(t, n, "proto", "80"); len(got) != 0 {
		t.Errorf("own routes left after empty plan: %v", got)
	}
	if got := kernelRoutes(t, n, "10.50.0.0/24"); len(got) != 1 || !strings.Contains(got[0], "proto static") {
		t.Errorf("foreign route in main table was touched: %v", got)
	}
	if got := kernelRoutes(t, n, "table", "100"); len(got) != 1 {
		t.Errorf("proto 80 route in another table was touched: %v", got)
	}
}

func TestSyncerNeverOverwritesForeignRoute(t *testing.T) {
	n := nodeNS(t)
	s := NewSyncer(n.Handle, zap.NewNop())
	plan := Plan{Routes: []Route{
		{Dst: pfx("10.50.0.0/24"), Kind: KindNative, Gateway: addr("192.168.40.101")},
		{Dst: pfx("10.60.0.0/24"), Kind: KindNative, Gateway: addr("192.168.40.101")},
	}}
	st, err := s.Apply(plan)
	if err == nil || !strings.Contains(err.Error(), "adding route native 10.50.0.0/24") {
		t.Fatalf("err = %v, want a failure to add over the foreign route", err)
	}
	if st.RoutesAdded != 1 {
		t.Errorf("stats %+v: the other route should still be added", st)
	}
	if got := kernelRoutes(t, n, "10.50.0.0/24"); len(got) != 1 || !strings.Contains(got[0], "via 192.168.40.1 ") {
		t.Errorf("foreign route changed: %v", got)
	}
}

func TestSyncerReportsMissingDevice(t *testing.T) {
	n := nodeNS(t)
	s := NewSyncer(n.Handle, zap.NewNop())
	plan := Plan{Routes: []Route{{Dst: pfx("172.16.1.0/26"), Kind: KindIPIP, Device: IPIPDevice, Gateway: addr("192.168.40.101"), OnLink: true}}}
	_, err := s.Apply(plan)
	if err == nil || !strings.Contains(err.Error(), "finding device tunl0") {
		t.Fatalf("err = %v, want it to name the missing tunl0", err)
	}
}

func TestSyncerApplyKeepingStale(t *testing.T) {
	n := nodeNS(t)
	s := NewSyncer(n.Handle, zap.NewNop())
	route := func(dst string) Route {
		return Route{Dst: pfx(dst), Kind: KindNative, Gateway: addr("192.168.40.101")}
	}
	if _, err := s.Apply(Plan{Routes: []Route{route("10.61.0.0/24"), route("10.62.0.0/24")}}); err != nil {
		t.Fatal(err)
	}
	st, err := s.ApplyKeepingStale(Plan{Routes: []Route{route("10.63.0.0/24")}})
	if err != nil || st != (Stats{RoutesAdded: 1}) {
		t.Fatalf("keeping stale: stats %+v err %v", st, err)
	}
	if got := kernelRoutes(t, n, "proto", "80"); len(got) != 3 {
		t.Errorf("after ApplyKeepingStale: %q, want the two old routes and the new one", got)
	}
	st, err = s.Apply(Plan{Routes: []Route{route("10.63.0.0/24")}})
	if err != nil || st != (Stats{RoutesDeleted: 2}) {
		t.Fatalf("full apply: stats %+v err %v", st, err)
	}
}
