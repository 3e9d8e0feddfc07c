package bgp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
)

// These tests run two speakers in this process on loopback addresses (127.0.0.x),
// so they need neither root nor a namespace, and no packet leaves the host.

func freePort(t testing.TB, host string) int32 {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", host, err)
	}
	defer l.Close()
	return int32(l.Addr().(*net.TCPAddr).Port)
}

// routeLog records RouteEvents and lets a test wait for a state.
type routeLog struct {
	mu     sync.Mutex
	routes map[netip.Prefix]netip.Addr
	events []RouteEvent
}

func newRouteLog() *routeLog { return &routeLog{routes: map[netip.Prefix]netip.Addr{}} }

func (r *routeLog) add(ev RouteEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	if ev.Withdraw {
		delete(r.routes, ev.Prefix)
	} else {
		r.routes[ev.Prefix] = ev.NextHop
	}
}

func (r *routeLog) snapshot() map[netip.Prefix]netip.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[netip.Prefix]netip.Addr, len(r.routes))
	for k, v := range r.routes {
		out[k] = v
	}
	return out
}

func eventually(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, detail)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type loSpeaker struct {
	s      *Speaker
	addr   netip.Addr
	port   int32
	routes *routeLog
}

func startLo(t *testing.T, host string, routerID string, as uint32) *loSpeaker {
	t.Helper()
	ls := &loSpeaker{addr: netip.MustParseAddr(host), port: freePort(t, host), routes: newRouteLog()}
	s, err := Start(Options{
		RouterID: netip.MustParseAddr(routerID), ASNumber: as,
		ListenAddress: host, ListenPort: ls.port, ConnectRetry: time.Second,
		Logger: zaptest.NewLogger(t), OnRoute: ls.routes.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	ls.s = s
	return ls
}

func (a *loSpeaker) peer(b *loSpeaker, typ PeerType, as uint32) Peer {
	return Peer{Address: b.addr, Port: uint16(b.port), ASNumber: as, Type: typ}
}

func statusOf(t *testing.T, s *Speaker) []PeerStatus {
	rows, err := s.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestSpeakersExchangeBlocks(t *testing.T) {
	ctx := context.Background()
	a := startLo(t, "127.0.0.1", "10.0.0.1", 64512)
	b := startLo(t, "127.0.0.2", "10.0.0.2", 64512)
	if err := a.s.SetPeers(ctx, []Peer{a.peer(b, TypeMesh, 64512)}); err != nil {
		t.Fatal(err)
	}
	fromB := b.peer(a, TypeMesh, 64512)
	fromB.Passive = true // as ComputePeers does for the higher address
	if err := b.s.SetPeers(ctx, []Peer{fromB}); err != nil {
		t.Fatal(err)
	}
	blockA, blockB := netip.MustParsePrefix("172.16.0.0/26"), netip.MustParsePrefix("172.16.0.64/26")
	if err := a.s.SetAdvertised(ctx, []netip.Prefix{blockA, netip.MustParsePrefix("172.16.9.9/32")}); err != nil {
		t.Fatal(err)
	}
	if err := b.s.SetAdvertised(ctx, []netip.Prefix{blockB}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "session up on a", 20*time.Second, func() (bool, string) {
		rows := statusOf(t, a.s)
		return len(rows) == 1 && rows[0].State == "up" && rows[0].Info == "Established", cmp.Diff(nil, rows)
	})
	wantB := map[netip.Prefix]netip.Addr{blockA: netip.MustParseAddr("10.0.0.1"), netip.MustParsePrefix("172.16.9.9/32"): netip.MustParseAddr("10.0.0.1")}
	eventually(t, "b learns a's prefixes", 10*time.Second, func() (bool, string) {
		got := b.routes.snapshot()
		d := cmp.Diff(wantB, got, ipCmp)
		return d == "", d
	})
	eventually(t, "a learns b's block, not its own", 10*time.Second, func() (bool, string) {
		got := a.routes.snapshot()
		d := cmp.Diff(map[netip.Prefix]netip.Addr{blockB: netip.MustParseAddr("10.0.0.2")}, got, ipCmp)
		return d == "", d
	})
	rows := statusOf(t, b.s)
	if len(rows) != 1 || rows[0].Address != a.addr || rows[0].Type != TypeMesh || rows[0].Since.IsZero() {
		t.Errorf("b status = %+v", rows)
	}

	// Releasing a block withdraws it.
	if err := a.s.SetAdvertised(ctx, []netip.Prefix{blockA}); err != nil {
		t.Fatal(err)
	}
	delete(wantB, netip.MustParsePrefix("172.16.9.9/32"))
	eventually(t, "withdrawal reaches b", 10*time.Second, func() (bool, string) {
		d := cmp.Diff(wantB, b.routes.snapshot(), ipCmp)
		return d == "", d
	})

	// Removing the peer ends the session and b's learned routes go.
	if err := a.s.SetPeers(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if rows := statusOf(t, a.s); len(rows) != 0 {
		t.Errorf("a still reports peers: %+v", rows)
	}
	eventually(t, "b drops a's routes after the session ends", 10*time.Second, func() (bool, string) {
		got := b.routes.snapshot()
		return len(got) == 0, cmp.Diff(map[netip.Prefix]netip.Addr{}, got, ipCmp)
	})
}

func TestSpeakerStatusWhilePeerIsDown(t *testing.T) {
	a := startLo(t, "127.0.0.3", "10.0.0.3", 64512)
	// Nobody listens on this port: the session cannot come up.
	dead := Peer{Address: netip.MustParseAddr("127.0.0.4"), Port: uint16(freePort(t, "127.0.0.4")), ASNumber: 65000, Type: TypeGlobal}
	if err := a.s.SetPeers(context.Background(), []Peer{dead}); err != nil {
		t.Fatal(err)
	}
	rows := statusOf(t, a.s)
	if len(rows) != 1 || rows[0].State != "start" || rows[0].Info == "Established" || rows[0].Type != TypeGlobal {
		t.Errorf("status = %+v, want one global peer not up", rows)
	}
}

func TestStartRejectsBadRouterID(t *testing.T) {
	if _, err := Start(Options{RouterID: netip.MustParseAddr("fd00::1")}); err == nil {
		t.Error("IPv6 router ID accepted")
	}
}

func TestOriginPathFamilyMismatch(t *testing.T) {
	if _, err := originPath(netip.MustParsePrefix("fd00::/64"), netip.MustParseAddr("10.0.0.1")); err == nil {
		t.Error("IPv6 prefix with IPv4 next hop accepted")
	}
}

// keepOriginalNextHop: B relays A's block to its eBGP peer C. With the option C sees
// A's next hop; without it, B's own address (eBGP next-hop-self).
func TestKeepOriginalNextHop(t *testing.T) {
	for _, keep := range []bool{true, false} {
		t.Run(fmt.Sprintf("keep=%v", keep), func(t *testing.T) {
			ctx := context.Background()
			hostA, hostB, hostC := "127.0.0.5", "127.0.0.6", "127.0.0.7"
			if !keep {
				hostA, hostB, hostC = "127.0.0.8", "127.0.0.9", "127.0.0.10"
			}
			a := startLo(t, hostA, "10.0.0.1", 64512)
			b := startLo(t, hostB, "10.0.0.2", 64512)
			c := startLo(t, hostC, "10.0.0.3", 65000)
			must(t, a.s.SetPeers(ctx, []Peer{a.peer(b, TypeMesh, 64512)}))
			toC := b.peer(c, TypeGlobal, 65000)
			toC.KeepOriginalNextHop = keep
			must(t, b.s.SetPeers(ctx, []Peer{b.peer(a, TypeMesh, 64512), toC}))
			// C waits for B to connect, as ComputePeers arranges between our own
			// speakers: two GoBGPs both connecting can collide in lock-step.
			fromC := c.peer(b, TypeGlobal, 64512)
			fromC.Passive = true
			must(t, c.s.SetPeers(ctx, []Peer{fromC}))
			block := netip.MustParsePrefix("172.16.0.0/26")
			must(t, a.s.SetAdvertised(ctx, []netip.Prefix{block}))
			want := netip.MustParseAddr(hostB)
			if keep {
				want = netip.MustParseAddr("10.0.0.1")
			}
			eventually(t, "C learns A's block", 30*time.Second, func() (bool, string) {
				got := c.routes.snapshot()
				d := cmp.Diff(map[netip.Prefix]netip.Addr{block: want}, got, ipCmp)
				return d == "", d
			})
			if !keep {
				return
			}
			// Turning the option off removes the policy; the re-created session
			// carries B's address again.
			toC.KeepOriginalNextHop = false
			must(t, b.s.SetPeers(ctx, []Peer{b.peer(a, TypeMesh, 64512), toC}))
			eventually(t, "C sees B as next hop", 30*time.Second, func() (bool, string) {
				got := c.routes.snapshot()
				d := cmp.Diff(map[netip.Prefix]netip.Addr{block: netip.MustParseAddr(hostB)}, got, ipCmp)
				return d == "", d
			})
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
