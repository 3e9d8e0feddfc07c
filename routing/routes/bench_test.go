package routes

import (
	"fmt"
	"net"
	"net/netip"
	"testing"

	"go.uber.org/zap"

	"github.com/palisadenet/palisade/internal/netnstest/nstest"
)

// clusterInput is a 5,000-node cluster seen from node 0: one /26 block per node,
// nodes on a /16, a CrossSubnet VXLAN pool (so both native and VXLAN routes occur).
func clusterInput(nodes int) Input {
	in := Input{
		Local: LocalNode{Name: "node-0", Address: netip.MustParsePrefix("10.10.0.1/24"), Interface: "eth0"},
		Pools: []Pool{{CIDR: netip.MustParsePrefix("172.16.0.0/12"), VXLANMode: EncapCrossSubnet}},
	}
	for i := range nodes {
		name := fmt.Sprintf("node-%d", i)
		ip := netip.AddrFrom4([4]byte{10, 10, byte(i / 250), byte(i%250 + 1)})
		block := netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16 + byte(i>>10), byte(i >> 2), byte(i%4) * 64}), 26)
		in.Blocks = append(in.Blocks, Block{CIDR: block, Node: name})
		in.Nodes = append(in.Nodes, RemoteNode{Name: name, IP: ip, VTEPIP: block.Addr(),
			VTEPMAC: net.HardwareAddr{0x66, 0, 0, 0, byte(i >> 8), byte(i)}})
	}
	return in
}

func BenchmarkDecide5000Blocks(b *testing.B) {
	in := clusterInput(5000)
	b.ReportAllocs()
	for b.Loop() {
		plan, problems := Decide(in)
		if len(plan.Routes) != 5000 || len(problems) != 0 {
			b.Fatalf("%d routes, problems %v", len(plan.Routes), problems)
		}
	}
}

func BenchmarkDecideRemote(b *testing.B) {
	in := clusterInput(2)
	dst, n := in.Blocks[1].CIDR, in.Nodes[1]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecideRemote(in.Local, in.Pools, dst, n); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInstall5000Routes measures one Apply that adds 5,000 native routes to an
// empty namespace (the deletion between iterations is not timed).
func BenchmarkInstall5000Routes(b *testing.B) {
	nstest.RequireRoot(b)
	n := nstest.New(b, nstest.Prefix(b)+"-bench")
	n.Run(b, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
	n.Run(b, "ip", "addr", "add", "10.10.0.1/16", "dev", "eth0")
	n.Run(b, "ip", "link", "set", "eth0", "up")
	n.Run(b, "ip", "link", "set", "eth0p", "up")
	in := clusterInput(5000)
	in.Local.Address = netip.MustParsePrefix("10.10.0.1/16") // every node on-subnet: native routes
	plan, problems := Decide(in)
	if len(problems) != 0 {
		b.Fatal(problems)
	}
	s := NewSyncer(n.Handle, zap.NewNop())
	b.ReportAllocs()
	for b.Loop() {
		st, err := s.Apply(plan)
		if err != nil || st.RoutesAdded != 5000 {
			b.Fatalf("stats %+v err %v", st, err)
		}
		b.StopTimer()
		if _, err := s.Apply(Plan{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkResyncNoChange5000 measures the periodic repair pass when nothing changed.
func BenchmarkResyncNoChange5000(b *testing.B) {
	nstest.RequireRoot(b)
	n := nstest.New(b, nstest.Prefix(b)+"-bench")
	n.Run(b, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
	n.Run(b, "ip", "addr", "add", "10.10.0.1/16", "dev", "eth0")
	n.Run(b, "ip", "link", "set", "eth0", "up")
	in := clusterInput(5000)
	in.Local.Address = netip.MustParsePrefix("10.10.0.1/16")
	plan, _ := Decide(in)
	s := NewSyncer(n.Handle, zap.NewNop())
	if _, err := s.Apply(plan); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if st, err := s.Apply(plan); err != nil || st != (Stats{}) {
			b.Fatalf("stats %+v err %v", st, err)
		}
	}
}
