package routes

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ipCmp lets go-cmp compare netip values.
var ipCmp = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// The node of ../shared/examples/routes-ipip.txt.
var exampleLocal = LocalNode{Name: "node-112", Address: pfx("192.168.40.112/24"), Interface: "ens33"}

var exampleNodes = []RemoteNode{
	{Name: "node-101", IP: addr("192.168.40.101"), VTEPIP: addr("172.16.32.128"), VTEPMAC: mac("66:00:00:00:01:01")},
	{Name: "node-far", IP: addr("10.20.0.7"), VTEPIP: addr("172.16.99.0"), VTEPMAC: mac("66:00:00:00:02:07")},
	{Name: "node-novtep", IP: addr("192.168.40.102")},
}

func examplePool(ipip, vxlan EncapMode) []Pool {
	return []Pool{{CIDR: pfx("172.16.0.0/16"), IPIPMode: ipip, VXLANMode: vxlan}}
}

func TestDecideRemote(t *testing.T) {
	near, far, novtep := exampleNodes[0], exampleNodes[1], exampleNodes[2]
	block := pfx("172.16.32.128/26")
	cases := []struct {
		name    string
		ipip    EncapMode
		vxlan   EncapMode
		node    RemoteNode
		dst     netip.Prefix
		want    Route
		wantErr string
	}{
		// routes-ipip.txt, first scenario: IPIP Always → tunl0 via the node IP, onlink.
		{name: "ipip always, same subnet", ipip: EncapAlways, node: near, dst: block,
			want: Route{Dst: block, Kind: KindIPIP, Device: "tunl0", Gateway: addr("192.168.40.101"), OnLink: true}},
		{name: "ipip always, other subnet", ipip: EncapAlways, node: far, dst: block,
			want: Route{Dst: block, Kind: KindIPIP, Device: "tunl0", Gateway: addr("10.20.0.7"), OnLink: true}},
		// routes-ipip.txt, second scenario: CrossSubnet, both on 192.168.40.0/24 → ens33.
		{name: "ipip cross-subnet, same subnet goes direct", ipip: EncapCrossSubnet, node: near, dst: block,
			want: Route{Dst: block, Kind: KindNative, Device: "ens33", Gateway: addr("192.168.40.101")}},
		{name: "ipip cross-subnet, other subnet tunnels", ipip: EncapCrossSubnet, node: far, dst: block,
			want: Route{Dst: block, Kind: KindIPIP, Device: "tunl0", Gateway: addr("10.20.0.7"), OnLink: true}},
		{name: "never, same subnet", node: near, dst: block,
			want: Route{Dst: block, Kind: KindNative, Device: "ens33", Gateway: addr("192.168.40.101")}},
		{name: "explicit Never modes", ipip: EncapNever, vxlan: EncapNever, node: near, dst: block,
			want: Route{Dst: block, Kind: KindNative, Device: "ens33", Gateway: addr("192.168.40.101")}},
		{name: "never, other subnet is unroutable", node: far, dst: block,
			wantErr: "outside this node's subnet"},
		{name: "vxlan always, same subnet", vxlan: EncapAlways, node: near, dst: block,
			want: Route{Dst: block, Kind: KindVXLAN, Device: "vxlan.calico", Gateway: addr("172.16.32.128"), OnLink: true}},
		{name: "vxlan always, other subnet", vxlan: EncapAlways, node: far, dst: block,
			want: Route{Dst: block, Kind: KindVXLAN, Device: "vxlan.calico", Gateway: addr("172.16.99.0"), OnLink: true}},
		{name: "vxlan cross-subnet, same subnet goes direct", vxlan: EncapCrossSubnet, node: near, dst: block,
			want: Route{Dst: block, Kind: KindNative, Device: "ens33", Gateway: addr("192.168.40.101")}},
		{name: "vxlan cross-subnet, other subnet tunnels", vxlan: EncapCrossSubnet, node: far, dst: block,
			want: Route{Dst: block, Kind: KindVXLAN, Device: "vxlan.calico", Gateway: addr("172.16.99.0"), OnLink: true}},
		{name: "vxlan wins over ipip when both are set", ipip: EncapAlways, vxlan: EncapAlways, node: near, dst: block,
			want: Route{Dst: block, Kind: KindVXLAN, Device: "vxlan.calico", Gateway: addr("172.16.32.128"), OnLink: true}},
		{name: "vxlan without a VTEP is an error", vxlan: EncapAlways, node: novtep, dst: block,
			wantErr: "no VXLAN tunnel address"},
		{name: "vxlan cross-subnet same subnet needs no VTEP", vxlan: EncapCrossSubnet, node: novtep, dst: block,
			want: Route{Dst: block, Kind: KindNative, Device: "ens33", Gateway: addr("192.168.40.102")}},
		{name: "dst outside every pool is native", ipip: EncapAlways, node: near, dst: pfx("10.99.0.0/24"),
			want: Route{Dst: pfx("10.99.0.0/24"), Kind: KindNative, Device: "ens33", Gateway: addr("192.168.40.101")}},
		{name: "borrowed /32", ipip: EncapAlways, node: near, dst: pfx("172.16.58.200/32"),
			want: Route{Dst: pfx("172.16.58.200/32"), Kind: KindIPIP, Device: "tunl0", Gateway: addr("192.168.40.101"), OnLink: true}},
		{name: "node without IP", node: RemoteNode{Name: "x"}, dst: block, wantErr: `node "x" has no IP`},
		{name: "family mismatch", node: RemoteNode{Name: "v6", IP: addr("fd00::1")}, dst: block, wantErr: "family"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecideRemote(exampleLocal, examplePool(c.ipip, c.vxlan), c.dst, c.node)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want it to contain %q (route %v)", err, c.wantErr, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got, ipCmp); diff != "" {
				t.Errorf("route (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecideNativeWithoutInterfaceLeavesDeviceToKernel(t *testing.T) {
	local := exampleLocal
	local.Interface = ""
	got, err := DecideRemote(local, nil, pfx("172.16.32.128/26"), exampleNodes[0])
	if err != nil {
		t.Fatal(err)
	}
	if got.Device != "" || got.OnLink {
		t.Errorf("got %v, want no device and no onlink", got)
	}
}

func TestDecidePlan(t *testing.T) {
	in := Input{
		Local: exampleLocal,
		Pools: []Pool{
			{CIDR: pfx("172.16.0.0/16"), IPIPMode: EncapAlways},
			{CIDR: pfx("172.16.200.0/22"), VXLANMode: EncapAlways}, // more specific pool wins
		},
		Blocks: []Block{
			{CIDR: pfx("172.16.58.192/26"), Node: "node-112"},
			{CIDR: pfx("172.16.32.128/26"), Node: "node-101"},
			{CIDR: pfx("172.16.200.0/26"), Node: "node-101"},
			{CIDR: pfx("172.16.201.0/26"), Node: "node-far"},
			{CIDR: pfx("172.16.70.0/26"), Node: ""},          // unclaimed: ignored
			{CIDR: pfx("172.16.71.0/26"), Node: "node-gone"}, // unknown node: problem
			{CIDR: pfx("172.16.201.64/26"), Node: "node-novtep"},
		},
		Borrowed: []Borrowed{
			{IP: addr("172.16.58.250"), Node: "node-101"}, // borrowed from our block
			{IP: addr("172.16.32.140"), Node: "node-112"}, // we borrowed: CNI's /32 covers it
		},
		Nodes: exampleNodes,
	}
	plan, problems := Decide(in)
	want := Plan{
		Routes: []Route{
			{Dst: pfx("172.16.32.128/26"), Kind: KindIPIP, Device: "tunl0", Gateway: addr("192.168.40.101"), OnLink: true},
			{Dst: pfx("172.16.58.192/26"), Kind: KindBlackhole},
			{Dst: pfx("172.16.58.250/32"), Kind: KindIPIP, Device: "tunl0", Gateway: addr("192.168.40.101"), OnLink: true},
			{Dst: pfx("172.16.200.0/26"), Kind: KindVXLAN, Device: "vxlan.calico", Gateway: addr("172.16.32.128"), OnLink: true},
			{Dst: pfx("172.16.201.0/26"), Kind: KindVXLAN, Device: "vxlan.calico", Gateway: addr("172.16.99.0"), OnLink: true},
			// No tunnel endpoint published yet, but on our subnet: direct until then.
			{Dst: pfx("172.16.201.64/26"), Kind: KindNative, Device: "ens33", Gateway: addr("192.168.40.102")},
		},
		Neighbors: []Neighbor{
			{IP: addr("172.16.32.128"), MAC: "66:00:00:00:01:01"},
			{IP: addr("172.16.99.0"), MAC: "66:00:00:00:02:07"},
		},
		FDB: []FDBEntry{
			{MAC: "66:00:00:00:02:07", Dst: addr("10.20.0.7")},
			{MAC: "66:00:00:00:01:01", Dst: addr("192.168.40.101")},
		},
	}
	if diff := cmp.Diff(want, plan, ipCmp); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	var reasons []string
	for _, p := range problems {
		reasons = append(reasons, p.Error())
	}
	wantReasons := []string{
		`cannot route 172.16.71.0/26: node "node-gone" is unknown`,
		`cannot route 172.16.201.64/26: node "node-novtep" has no VXLAN tunnel address or MAC; routed directly on the shared subnet until it does`,
	}
	if diff := cmp.Diff(wantReasons, reasons); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestDecideSwitchingModeRewritesRoutes(t *testing.T) {
	in := Input{
		Local:  exampleLocal,
		Blocks: []Block{{CIDR: pfx("172.16.32.128/26"), Node: "node-101"}},
		Nodes:  exampleNodes,
	}
	kinds := map[EncapMode]Kind{}
	for _, m := range []EncapMode{EncapNever, EncapAlways, EncapCrossSubnet} {
		in.Pools = examplePool(m, EncapNever)
		plan, problems := Decide(in)
		if len(problems) != 0 || len(plan.Routes) != 1 {
			t.Fatalf("mode %s: plan %v problems %v", m, plan, problems)
		}
		kinds[m] = plan.Routes[0].Kind
	}
	want := map[EncapMode]Kind{EncapNever: KindNative, EncapAlways: KindIPIP, EncapCrossSubnet: KindNative}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("kinds by ipipMode (-want +got):\n%s", diff)
	}
}

func TestDecideWithoutLocalAddress(t *testing.T) {
	_, problems := Decide(Input{Local: LocalNode{Name: "n"}})
	if len(problems) != 1 || !strings.Contains(problems[0].Error(), "no address") {
		t.Fatalf("problems = %v", problems)
	}
}

func TestPoolFor(t *testing.T) {
	pools := []Pool{{CIDR: pfx("10.0.0.0/8")}, {CIDR: pfx("10.1.0.0/16")}, {CIDR: pfx("10.1.2.0/24")}}
	cases := map[string]string{"10.1.2.0/26": "10.1.2.0/24", "10.1.3.0/26": "10.1.0.0/16", "10.9.0.0/26": "10.0.0.0/8", "10.0.0.0/7": "", "11.0.0.0/26": ""}
	for dst, want := range cases {
		p, ok := PoolFor(pools, pfx(dst))
		got := ""
		if ok {
			got = p.CIDR.String()
		}
		if got != want {
			t.Errorf("PoolFor(%s) = %q, want %q", dst, got, want)
		}
	}
}

// A VXLAN route waiting for the node's tunnel endpoint falls back to a direct route
// only when the node shares our subnet; across subnets there is no route yet.
func TestDecideRemoteOrDirect(t *testing.T) {
	vxlan := []Pool{{CIDR: pfx("172.16.0.0/16"), VXLANMode: EncapAlways}}
	block := pfx("172.16.9.0/26")
	near := RemoteNode{Name: "near", IP: addr("192.168.40.120")}
	far := RemoteNode{Name: "far", IP: addr("10.20.0.9")}
	r, err := DecideRemoteOrDirect(exampleLocal, vxlan, block, near)
	if err == nil || r.Kind != KindNative || r.Gateway != near.IP || r.Device != "ens33" {
		t.Errorf("near node without VTEP: %v, %v; want a direct route and an explanation", r, err)
	}
	if r, err := DecideRemoteOrDirect(exampleLocal, vxlan, block, far); err == nil || r.Kind != 0 {
		t.Errorf("far node without VTEP: %v, %v; want no route", r, err)
	}
	withVTEP := exampleNodes[0]
	if r, err := DecideRemoteOrDirect(exampleLocal, vxlan, block, withVTEP); err != nil || r.Kind != KindVXLAN {
		t.Errorf("node with VTEP: %v, %v; want the VXLAN route", r, err)
	}
	ipip := examplePool(EncapAlways, EncapNever)
	if r, err := DecideRemoteOrDirect(exampleLocal, ipip, block, RemoteNode{Name: "v6", IP: addr("fd00::1")}); err == nil || r.Kind != 0 {
		t.Errorf("family mismatch: %v, %v; want no route", r, err)
	}
}
