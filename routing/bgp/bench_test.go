package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// BenchmarkComputePeersMesh1000: one node's sessions in a 1,000-node mesh plus two
// global peers.
func BenchmarkComputePeersMesh1000(b *testing.B) {
	in := PeerInput{Local: "node-0", Specs: []PeerSpec{
		{Name: "tor-a", PeerIP: netip.MustParseAddr("192.0.2.1"), ASNumber: 65000},
		{Name: "tor-b", PeerIP: netip.MustParseAddr("192.0.2.2"), ASNumber: 65000},
	}}
	for i := range 1000 {
		in.Nodes = append(in.Nodes, Node{Name: fmt.Sprintf("node-%d", i), IP: netip.AddrFrom4([4]byte{10, 10, byte(i >> 8), byte(i)})})
	}
	b.ReportAllocs()
	for b.Loop() {
		peers, errs := ComputePeers(in)
		if len(peers) != 1001 || len(errs) != 0 {
			b.Fatalf("%d peers, %v", len(peers), errs)
		}
	}
}

// BenchmarkSpeakerLearn5000: speaker A announces 5,000 /26 blocks to speaker B over
// a loopback iBGP session; one iteration is from SetAdvertised on A to the 5,000th
// RouteEvent on B (no kernel involved), and the withdrawal is untimed.
func BenchmarkSpeakerLearn5000(b *testing.B) {
	const n = 5000
	ctx := context.Background()
	a := benchLo(b, "127.0.0.11", "10.0.0.1")
	c := benchLo(b, "127.0.0.12", "10.0.0.2")
	if err := a.s.SetPeers(ctx, []Peer{a.peer(c, TypeMesh, 64512)}); err != nil {
		b.Fatal(err)
	}
	fromC := c.peer(a, TypeMesh, 64512)
	fromC.Passive = true
	if err := c.s.SetPeers(ctx, []Peer{fromC}); err != nil {
		b.Fatal(err)
	}
	waitFor(b, 30*time.Second, func() bool {
		rows, _ := a.s.Status(ctx)
		return len(rows) == 1 && rows[0].State == "up"
	})
	blocks := make([]netip.Prefix, n)
	for i := range n {
		blocks[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 128 + byte(i>>10), byte(i >> 2), byte(i%4) * 64}), 26)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := a.s.SetAdvertised(ctx, blocks); err != nil {
			b.Fatal(err)
		}
		waitFor(b, 60*time.Second, func() bool { return len(c.routes.snapshot()) == n })
		b.StopTimer()
		if err := a.s.SetAdvertised(ctx, nil); err != nil {
			b.Fatal(err)
		}
		waitFor(b, 60*time.Second, func() bool { return len(c.routes.snapshot()) == 0 })
		b.StartTimer()
	}
}

func benchLo(b *testing.B, host, routerID string) *loSpeaker {
	ls := &loSpeaker{addr: netip.MustParseAddr(host), port: freePort(b, host), routes: newRouteLog()}
	s, err := Start(Options{RouterID: netip.MustParseAddr(routerID), ListenAddress: host, ListenPort: ls.port,
		ConnectRetry: time.Second, OnRoute: ls.routes.add})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Stop)
	ls.s = s
	return ls
}

func waitFor(tb testing.TB, timeout time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
