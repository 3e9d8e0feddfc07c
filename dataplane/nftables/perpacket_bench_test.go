package nftables

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/backendtest"
	"github.com/palisadenet/palisade/internal/netnstest"
)

// BenchmarkPerPacketIperf3 measures what the table costs per packet: iperf3 TCP
// throughput and a short-connection rate between two pods on one node, first with no
// palisade table, then with the full-scale table (the receiving pod's allow is the
// last of its 41 policies), side by side in one run. Reported as Gbit/s, conn/s and
// with/without ratios in percent. A third measurement with only a conntrack rule
// (what kube-proxy already costs on a real node) separates conntrack from policy.
func BenchmarkPerPacketIperf3(b *testing.B) {
	netnstest.Require(b, "nft", "iperf3")
	b.Setenv(helperEnv, "1")
	node, a, pb := netnstest.New(b, "node"), netnstest.New(b, "a"), netnstest.New(b, "b")
	netnstest.AttachPod(b, node, a, ifaceA, netip.PrefixFrom(addrA, 32))
	netnstest.AttachPod(b, node, pb, ifaceB, netip.PrefixFrom(addrB, 32))
	pb.Listen(b, 8080)
	// Without port reuse the client's connect() slows down as TIME_WAIT sockets pile up
	// over the phases, which would charge the later phases for the earlier ones.
	a.MustRun(b, "sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1")
	server := exec.Command("ip", "netns", "exec", pb.Name, "iperf3", "-s", "-p", "5201")
	if err := server.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = server.Process.Kill(); _ = server.Wait() })
	time.Sleep(300 * time.Millisecond)

	for b.Loop() {
		without := measure(b, a)
		// A node always runs conntrack (kube-proxy); a netns only enables it when a
		// ruleset uses it. Measure that baseline too, to separate its cost from ours.
		node.MustRun(b, "nft", "add table inet ctonly; add chain inet ctonly f { type filter hook forward priority 0; policy accept; }; add rule inet ctonly f ct state established accept")
		ctOnly := measure(b, a)
		node.MustRun(b, "nft", "delete", "table", "inet", "ctonly")
		dp, err := New(zap.NewNop(), WithNetNSFd(node.Open(b)))
		if err != nil {
			b.Fatal(err)
		}
		if err := dp.Apply(updatesOf(perPacketObjects()...)); err != nil {
			b.Fatal(err)
		}
		with := measure(b, a)
		node.MustRun(b, "nft", "delete", "table", "inet", "palisade")
		_ = dp.Close()
		b.ReportMetric(without.gbps, "Gbps-without")
		b.ReportMetric(with.gbps, "Gbps-with")
		b.ReportMetric(100*with.gbps/without.gbps, "tput-%")
		b.ReportMetric(without.connPerSec, "conn/s-without")
		b.ReportMetric(with.connPerSec, "conn/s-with")
		b.ReportMetric(100*with.connPerSec/without.connPerSec, "connrate-%")
		b.ReportMetric(ctOnly.gbps, "Gbps-ct-only")
		b.ReportMetric(ctOnly.connPerSec, "conn/s-ct-only")
		b.ReportMetric(100*with.gbps/ctOnly.gbps, "tput-vs-ct-%")
		b.ReportMetric(100*with.connPerSec/ctOnly.connPerSec, "connrate-vs-ct-%")
	}
}

type rates struct{ gbps, connPerSec float64 }

func measure(b *testing.B, a *netnstest.NS) rates {
	out, err := a.Run("iperf3", "-c", addrB.String(), "-p", "5201", "-t", "3", "-J")
	if err != nil {
		b.Fatal(err)
	}
	var res struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		b.Fatalf("parsing iperf3 output: %v", err)
	}
	// Short connections run in a child process inside the pod, so this process's
	// garbage (the full-scale state) cannot slow the client down.
	out, err = a.Run(os.Args[0], "-test.run=^TestHelperShortConnections$", "-test.v")
	if err != nil {
		b.Fatalf("short-connection helper: %v", err)
	}
	var n int
	var secs float64
	if _, err := fmt.Sscanf(out[strings.Index(out, "conns="):], "conns=%d secs=%g", &n, &secs); err != nil {
		b.Fatalf("parsing helper output %q: %v", out, err)
	}
	return rates{gbps: res.End.SumReceived.BitsPerSecond / 1e9, connPerSec: float64(n) / secs}
}

// TestHelperShortConnections is not a test: BenchmarkPerPacketIperf3 runs the test
// binary with this name inside the client pod to count short connections (connect,
// echo one line, close) to pod b for 2 s.
func TestHelperShortConnections(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("helper process for BenchmarkPerPacketIperf3")
	}
	dst := netip.AddrPortFrom(addrB, 8080)
	start, n := time.Now(), 0
	for time.Since(start) < 2*time.Second && n < 100000 {
		c, err := net.DialTimeout("tcp", dst.String(), time.Second)
		if err != nil {
			t.Fatalf("short connection %d: %v", n, err)
		}
		err = netnstest.Echo(c, time.Second)
		c.Close()
		if err != nil {
			t.Fatalf("short connection %d: %v", n, err)
		}
		n++
	}
	fmt.Printf("conns=%d secs=%g\n", n, time.Since(start).Seconds())
}

const helperEnv = "PALISADE_SHORT_CONN_HELPER"

// perPacketObjects is the full-scale state where pods a and b (endpoints 10 and 11
// of the scale, interfaces cali0000000000a/b) also get an allow-all policy last.
func perPacketObjects() []any {
	objs := backendtest.ScaleObjects()
	allowAll := &dataplane.Policy{ID: pid("default", "zz/allow-all"),
		Inbound:  []dataplane.Rule{{ID: "in", Action: dataplane.ActionAllow}},
		Outbound: []dataplane.Rule{{ID: "out", Action: dataplane.ActionAllow}}}
	objs = append(objs, allowAll)
	for i, o := range objs {
		ep, ok := o.(*dataplane.Endpoint)
		if !ok || (ep.Iface != ifaceA && ep.Iface != ifaceB) {
			continue
		}
		tier := ep.Tiers[0]
		tier.IngressPolicies = append(append([]dataplane.PolicyID{}, tier.IngressPolicies...), allowAll.ID)
		tier.EgressPolicies = append(append([]dataplane.PolicyID{}, tier.EgressPolicies...), allowAll.ID)
		cp := *ep
		cp.Tiers = []dataplane.TierPolicies{tier}
		objs[i] = &cp
	}
	return objs
}
