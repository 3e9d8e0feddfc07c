package main_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisadenet/palisade/calc/ifacename"
	"github.com/palisadenet/palisade/internal/netnstest"
)

// TestHundredPods is the acceptance run: 100 pods ADDed through the binary,
// each with its interface, addresses, routes and sysctls; pods reach each other across
// the node; DEL (twice) removes everything.
func TestHundredPods(t *testing.T) {
	const n = 100
	e := newEnv(t)
	type pod struct {
		ns        *netnstest.NS
		name, cid string
		host      string
		addr4, a6 netip.Addr
	}
	pods := make([]pod, n)
	seen := map[netip.Addr]string{}
	for i := range pods {
		p := &pods[i]
		p.ns, p.name, p.cid = netnstest.New(t, fmt.Sprintf("p%d", i)), fmt.Sprintf("web-%d", i), fmt.Sprintf("cid%03d", i)
		p.host = ifacename.Workload("default", p.name)
		res, _ := e.add(p.ns, p.name, p.cid)
		if len(res.IPs) != 2 {
			t.Fatalf("pod %s got %d addresses, want 2", p.name, len(res.IPs))
		}
		p.addr4, p.a6 = mustPrefix(t, res.IPs[0].Address).Addr(), mustPrefix(t, res.IPs[1].Address).Addr()
		for _, a := range []netip.Addr{p.addr4, p.a6} {
			if other, dup := seen[a]; dup {
				t.Fatalf("address %s given to %s and %s", a, other, p.name)
			}
			seen[a] = p.name
		}
	}
	routes := e.node.MustRun(t, "ip", "route", "show", "proto", "81")
	routes6 := e.node.MustRun(t, "ip", "-6", "route", "show", "proto", "81")
	for _, p := range pods {
		if !strings.Contains(routes, p.addr4.String()+" dev "+p.host+" scope link") || !strings.Contains(routes6, p.a6.String()+" dev "+p.host) {
			t.Errorf("pod %s: node lacks routes %s/%s dev %s", p.name, p.addr4, p.a6, p.host)
		}
		if got := e.node.MustRun(t, "sysctl", "-n", "net.ipv4.conf."+p.host+".proxy_arp"); strings.TrimSpace(got) != "1" {
			t.Errorf("pod %s: proxy_arp on %s = %q", p.name, p.host, got)
		}
		if got := p.ns.MustRun(t, "ip", "-o", "addr", "show", "dev", "eth0"); !strings.Contains(got, p.addr4.String()+"/32") || !strings.Contains(got, p.a6.String()+"/128") {
			t.Errorf("pod %s: eth0 addresses %q", p.name, got)
		}
	}
	// Reachability across the node: each pod pings its neighbour (both families).
	for i, p := range pods {
		next := pods[(i+1)%n]
		for _, dst := range []netip.Addr{next.addr4, next.a6} {
			if err := p.ns.Ping(dst, 2*time.Second); err != nil {
				t.Errorf("%s → %s (%s): %v", p.name, next.name, dst, err)
			}
		}
	}
	for _, p := range pods {
		for range 2 {
			e.mustOK("DEL "+p.name, e.run(call{"DEL", p.cid, p.ns.Path(), p.name, e.conf("")}))
		}
	}
	if held := e.allocations(); len(held) != 0 {
		t.Errorf("allocations after DEL of every pod: %v", held)
	}
	if links := e.caliLinks(); links != "" {
		t.Errorf("host interfaces after DEL of every pod: %s", links)
	}
	if got := e.node.MustRun(t, "ip", "route", "show", "proto", "81"); strings.TrimSpace(got) != "" {
		t.Errorf("routes after DEL of every pod:\n%s", got)
	}
}

// BenchmarkAddDel measures one pod's ADD and DEL through the binary, the way the
// runtime calls it (file datastore, block already claimed after the first pod).
func BenchmarkAddDel(b *testing.B) {
	e := newEnv(b)
	e.add(netnstest.New(b, "warm"), "pod-a", "warm") // claims the blocks
	pod := netnstest.New(b, "bench")
	var adds, dels []time.Duration
	b.ResetTimer()
	for i := range b.N {
		cid := fmt.Sprintf("bench%d", i)
		start := time.Now()
		if o := e.run(call{"ADD", cid, pod.Path(), "pod-x", e.conf("")}); o.exit != 0 {
			b.Fatalf("ADD: %s %s", o.stdout, o.stderr)
		}
		mid := time.Now()
		if o := e.run(call{"DEL", cid, pod.Path(), "pod-x", e.conf("")}); o.exit != 0 {
			b.Fatalf("DEL: %s %s", o.stdout, o.stderr)
		}
		adds, dels = append(adds, mid.Sub(start)), append(dels, time.Since(mid))
	}
	b.StopTimer()
	reportPercentiles(b, "add", adds)
	reportPercentiles(b, "del", dels)
}

// reportPercentiles adds p50 and p99 of durations (in ms) to the benchmark's output.
// Each includes starting the binary under `ip netns exec`, as the runtime pays it.
func reportPercentiles(b *testing.B, what string, d []time.Duration) {
	slices.Sort(d)
	pick := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(pick(0.50), what+"-p50-ms")
	b.ReportMetric(pick(0.99), what+"-p99-ms")
}
