package routes_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/palisadenet/palisade/internal/netnstest/nstest"
	"github.com/palisadenet/palisade/routing/routes"
	"github.com/palisadenet/palisade/routing/tunnel"
)

// These tests route real pod traffic between node namespaces with routes computed
// from the datastore view alone (no BGP), the way VXLAN works in Calico.

type testNode struct {
	name    string
	addr    netip.Prefix // node IP with subnet
	gateway string       // default route, "" for none
	block   netip.Prefix
	pod     netip.Addr
	ns      *nstest.NS
	podNS   *nstest.NS
	remote  routes.RemoteNode
}

// buildNodes creates a bridge per subnet (and a router joining them when there are
// two), the node namespaces with vxlan.calico, and one pod behind each node.
func buildNodes(t *testing.T, nodes []*testNode, routerAddrs []string) {
	nstest.RequireRoot(t)
	p := nstest.Prefix(t)
	bridges := map[netip.Prefix]*nstest.NS{}
	for i, n := range nodes {
		subnet := n.addr.Masked()
		br, ok := bridges[subnet]
		if !ok {
			br = nstest.Bridge(t, fmt.Sprintf("%s-br%d", p, len(bridges)))
			bridges[subnet] = br
		}
		n.ns = nstest.New(t, fmt.Sprintf("%s-%s", p, n.name))
		nstest.Attach(t, br, n.ns, fmt.Sprintf("port%d", i), "eth0", n.addr.String())
		if n.gateway != "" {
			n.ns.Run(t, "ip", "route", "add", "default", "via", n.gateway)
		}
		vtep := n.block.Addr()
		mac, err := tunnel.EnsureVXLAN(n.ns.Handle, tunnel.VXLAN{Parent: "eth0", Source: n.addr.Addr(), VTEPIP: vtep})
		if err != nil {
			t.Fatal(err)
		}
		n.remote = routes.RemoteNode{Name: n.name, IP: n.addr.Addr(), VTEPIP: vtep, VTEPMAC: mac}
		n.podNS = nstest.Pod(t, n.ns, fmt.Sprintf("%s-%s-pod", p, n.name), "cali0000000"+fmt.Sprint(i), n.pod.String())
		nstest.ServeName(t, n.podNS)
	}
	if len(routerAddrs) > 0 {
		r := nstest.New(t, p+"-router")
		r.Run(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
		i := 0
		for _, br := range bridges {
			nstest.Attach(t, br, r, fmt.Sprintf("rport%d", i), fmt.Sprintf("eth%d", i), routerAddrs[i])
			i++
		}
	}
}

// program computes and applies each node's plan for the given pools.
func program(t *testing.T, nodes []*testNode, pools []routes.Pool) {
	t.Helper()
	var blocks []routes.Block
	var remotes []routes.RemoteNode
	for _, n := range nodes {
		blocks = append(blocks, routes.Block{CIDR: n.block, Node: n.name})
		remotes = append(remotes, n.remote)
	}
	for _, n := range nodes {
		plan, problems := routes.Decide(routes.Input{
			Local:  routes.LocalNode{Name: n.name, Address: n.addr, Interface: "eth0"},
			Pools:  pools,
			Blocks: blocks,
			Nodes:  remotes,
		})
		if len(problems) > 0 {
			t.Fatalf("%s: %v", n.name, problems)
		}
		if _, err := routes.NewSyncer(n.ns.Handle, zap.NewNop()).Apply(plan); err != nil {
			t.Fatalf("%s: %v", n.name, err)
		}
	}
}

func pingAll(t *testing.T, nodes []*testNode) {
	t.Helper()
	for _, a := range nodes {
		for _, b := range nodes {
			if a == b {
				continue
			}
			got, err := a.podNS.Reach(b.pod.String(), 2*time.Second)
			if err != nil || got != b.podNS.Name {
				t.Errorf("pod on %s cannot reach pod on %s: answer %q, %v", a.name, b.name, got, err)
			}
		}
	}
}

func routeTo(t *testing.T, n *testNode, dst netip.Prefix) string {
	return strings.Join(strings.Fields(n.ns.Run(t, "ip", "route", "show", "proto", "80", dst.String())), " ")
}

func vxlanTxPackets(t *testing.T, n *testNode) string {
	return strings.TrimSpace(n.ns.Run(t, "cat", "/sys/class/net/vxlan.calico/statistics/tx_packets"))
}

func TestVXLANAlwaysWithoutBGP(t *testing.T) {
	nodes := []*testNode{
		{name: "n1", addr: netip.MustParsePrefix("192.168.50.1/24"), block: netip.MustParsePrefix("172.20.0.0/26"), pod: netip.MustParseAddr("172.20.0.5")},
		{name: "n2", addr: netip.MustParsePrefix("192.168.50.2/24"), block: netip.MustParsePrefix("172.20.0.64/26"), pod: netip.MustParseAddr("172.20.0.70")},
	}
	buildNodes(t, nodes, nil)
	program(t, nodes, []routes.Pool{{CIDR: netip.MustParsePrefix("172.20.0.0/16"), VXLANMode: routes.EncapAlways}})
	if got, want := routeTo(t, nodes[0], nodes[1].block), "172.20.0.64/26 via 172.20.0.64 dev vxlan.calico onlink"; got != want {
		t.Errorf("n1 route = %q, want %q", got, want)
	}
	pingAll(t, nodes)
	if vxlanTxPackets(t, nodes[0]) == "0" {
		t.Error("no packet left n1 through vxlan.calico")
	}
}

func TestCrossSubnetVXLAN(t *testing.T) {
	nodes := []*testNode{
		{name: "n1", addr: netip.MustParsePrefix("192.168.50.1/24"), gateway: "192.168.50.254",
			block: netip.MustParsePrefix("172.20.0.0/26"), pod: netip.MustParseAddr("172.20.0.5")},
		{name: "n2", addr: netip.MustParsePrefix("192.168.50.2/24"), gateway: "192.168.50.254",
			block: netip.MustParsePrefix("172.20.0.64/26"), pod: netip.MustParseAddr("172.20.0.70")},
		{name: "n3", addr: netip.MustParsePrefix("192.168.60.3/24"), gateway: "192.168.60.254",
			block: netip.MustParsePrefix("172.20.0.128/26"), pod: netip.MustParseAddr("172.20.0.130")},
	}
	buildNodes(t, nodes, []string{"192.168.50.254/24", "192.168.60.254/24"})
	pool := routes.Pool{CIDR: netip.MustParsePrefix("172.20.0.0/16"), VXLANMode: routes.EncapCrossSubnet}
	program(t, nodes, []routes.Pool{pool})

	n1 := nodes[0]
	if got, want := routeTo(t, n1, nodes[1].block), "172.20.0.64/26 via 192.168.50.2 dev eth0"; got != want {
		t.Errorf("same subnet: route = %q, want %q", got, want)
	}
	if got, want := routeTo(t, n1, nodes[2].block), "172.20.0.128/26 via 172.20.0.128 dev vxlan.calico onlink"; got != want {
		t.Errorf("other subnet: route = %q, want %q", got, want)
	}
	before := vxlanTxPackets(t, n1)
	if _, err := n1.podNS.Reach(nodes[1].pod.String(), 2*time.Second); err != nil {
		t.Fatalf("same-subnet connection: %v", err)
	}
	if after := vxlanTxPackets(t, n1); after != before {
		t.Errorf("same-subnet traffic went through vxlan.calico (tx %s → %s)", before, after)
	}
	pingAll(t, nodes)
	if vxlanTxPackets(t, n1) == before {
		t.Error("cross-subnet traffic did not use vxlan.calico")
	}

	// Switching the pool to Always rewrites the same-subnet route onto the tunnel.
	pool.VXLANMode = routes.EncapAlways
	program(t, nodes, []routes.Pool{pool})
	if got, want := routeTo(t, n1, nodes[1].block), "172.20.0.64/26 via 172.20.0.64 dev vxlan.calico onlink"; got != want {
		t.Errorf("after switch to Always: route = %q, want %q", got, want)
	}
	pingAll(t, nodes)
}
