package router_test

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/palisadenet/palisade/internal/netnstest/nstest"
	"github.com/palisadenet/palisade/routing/bgp"
	"github.com/palisadenet/palisade/routing/routes"
)

const benchBlocks = 5000

// BenchmarkLearn5000Routes is the routing scale target: a 5,000-node cluster's
// blocks (5,000 /26s) announced by one peer (the injector, n2) and installed into the
// kernel by our speaker (n1), measured side by side with BIRD 2 learning the same
// routes from the same injector and exporting them to its own kernel table. The
// sessions are up before the clock starts; each iteration times from the injector's
// announcement to the last route in each kernel. Metrics: palisade-s, bird-s, the
// ratio, and both processes' peak RSS.
func BenchmarkLearn5000Routes(b *testing.B) {
	bird, err := exec.LookPath("bird")
	if err != nil {
		b.Skip("needs bird (BIRD 2) for the side-by-side measurement")
	}
	c := newCluster(b, 2)
	n1, n2 := c.nodes[0], c.nodes[1]
	tor := nstest.New(b, c.prefix+"-bird")
	nstest.Attach(b, c.br, tor, "pbird", "eth0", "192.168.60.254/24")
	announce := false
	c.spec = func(nd *node, cfg *speakerConfig) {
		cfg.HoldSeconds = 90
		if nd != n2 {
			return
		}
		cfg.Specs = []bgp.PeerSpec{{Name: "bird", Node: "n2", PeerIP: netip.MustParseAddr("192.168.60.254"), ASNumber: 65000}}
		if announce {
			for i := range benchBlocks {
				a := netip.AddrFrom4([4]byte{10, 128 + byte(i>>10), byte(i >> 2), byte(i%4) * 64})
				cfg.Blocks = append(cfg.Blocks, routes.Block{CIDR: netip.PrefixFrom(a, 26), Node: "n2"})
			}
		}
	}
	conf := filepath.Join(c.dir, "bird.conf")
	writeFile(b, conf, fmt.Sprintf(`router id 192.168.60.254;
protocol device {}
protocol kernel { ipv4 { import none; export where source = RTS_BGP; }; }
protocol bgp injector {
  local 192.168.60.254 as 65000;
  neighbor %s as 64512;
  ipv4 { import all; export none; };
}
`, n2.ip))
	birdCmd := exec.Command("ip", "netns", "exec", tor.Name, bird, "-f", "-c", conf, "-s", filepath.Join(c.dir, "bird.ctl"))
	if err := birdCmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = birdCmd.Process.Kill(); _ = birdCmd.Wait() })
	c.startAll()
	c.waitEstablished(n1, []netip.Addr{n2.ip}, 60*time.Second)
	c.waitEstablished(n2, []netip.Addr{n1.ip, netip.MustParseAddr("192.168.60.254")}, 60*time.Second)

	const ourProto, birdProto = 80, unix.RTPROT_BIRD
	baseOurs, baseBird := countRoutes(b, n1.ns, ourProto), countRoutes(b, tor, birdProto)
	var ours, theirs time.Duration
	b.ResetTimer()
	for range b.N {
		announce = true
		c.writeConfig(n2)
		start := time.Now()
		_ = n2.cmd.Process.Signal(syscall.SIGHUP)
		dOurs, dBird := waitCounts(b, n1.ns, ourProto, baseOurs+benchBlocks, tor, birdProto, baseBird+benchBlocks, start)
		ours += dOurs
		theirs += dBird
		b.StopTimer()
		announce = false
		c.writeConfig(n2)
		_ = n2.cmd.Process.Signal(syscall.SIGHUP)
		waitCounts(b, n1.ns, ourProto, baseOurs, tor, birdProto, baseBird, time.Now())
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(ours.Seconds()/n, "palisade-s")
	b.ReportMetric(theirs.Seconds()/n, "bird-s")
	b.ReportMetric(ours.Seconds()/theirs.Seconds(), "palisade/bird")
	b.ReportMetric(peakRSSMB(b, n1.cmd.Process.Pid), "palisade-MB")
	b.ReportMetric(peakRSSMB(b, birdCmd.Process.Pid), "bird-MB")
}

// countRoutes counts main-table routes of protocol proto in ns.
func countRoutes(tb testing.TB, ns *nstest.NS, proto netlink.RouteProtocol) int {
	rs, err := ns.Handle.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN, Protocol: proto},
		netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		tb.Fatal(err)
	}
	return len(rs)
}

// waitCounts polls both kernels until each holds its wanted count and returns how
// long each took from start.
func waitCounts(tb testing.TB, a *nstest.NS, pa netlink.RouteProtocol, wa int, b *nstest.NS, pb netlink.RouteProtocol, wb int, start time.Time) (time.Duration, time.Duration) {
	var da, db time.Duration
	deadline := start.Add(60 * time.Second)
	for da == 0 || db == 0 {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out: %s has %d/%d routes, %s has %d/%d", a.Name, countRoutes(tb, a, pa), wa, b.Name, countRoutes(tb, b, pb), wb)
		}
		if da == 0 && countRoutes(tb, a, pa) == wa {
			da = time.Since(start)
		}
		if db == 0 && countRoutes(tb, b, pb) == wb {
			db = time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return da, db
}

// peakRSSMB reads a process's peak resident set (VmHWM) in MiB.
func peakRSSMB(tb testing.TB, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	tb.Fatalf("no VmHWM for pid %d", pid)
	return 0
}
