package scenarios

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/palisadenet/palisade/calc"
	"github.com/palisadenet/palisade/calc/ifacename"
	"github.com/palisadenet/palisade/dataplane/nftables"
	"github.com/palisadenet/palisade/internal/netnstest"
	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/policy/eval"
)

// Probe timeouts: an allowed probe gets time to complete on a loaded machine; a probe
// the evaluator denies only has to show that nothing came back.
const (
	allowTimeout = 3 * time.Second
	denyTimeout  = 700 * time.Millisecond
)

// probesPerWorld is how many flows each world samples (all of them run in parallel).
func probesPerWorld() int {
	if testing.Short() {
		return 16
	}
	return 28
}

// bench is the kernel side: one node namespace, one pod namespace per slot plumbed
// with the interface name calc gives it, and a Dataplane programming the node.
type bench struct {
	node  *netnstest.NS
	pods  []*netnstest.NS
	fd    int
	graph *calc.Graph
	dp    *nftables.Dataplane
	prev  *loaded
}

func newBench(t *testing.T) *bench {
	t.Helper()
	netnstest.RequireKernel(t, "nft")
	b := &bench{node: netnstest.New(t, "node")}
	b.fd = b.node.Open(t)
	for _, s := range Slots() {
		pod := netnstest.New(t, s.Name)
		netnstest.AttachPod(t, b.node, pod, ifacename.Workload(s.Namespace, s.Name),
			netip.PrefixFrom(s.V4, 32), netip.PrefixFrom(s.V6, 128))
		for _, port := range ServedPorts {
			pod.Listen(t, port)
		}
		b.pods = append(b.pods, pod)
	}
	// The external peer sits behind the node's eth9 and routes the pools back to it.
	ext := netnstest.New(t, "ext")
	netnstest.Veth(t, b.node, "eth9", ext, "eth0")
	b.node.MustRun(t, "ip", "addr", "add", "192.168.0.1/24", "dev", "eth9")
	b.node.MustRun(t, "ip", "-6", "addr", "add", "fd00:99::1/64", "dev", "eth9", "nodad")
	ext.MustRun(t, "ip", "addr", "add", External.V4.String()+"/24", "dev", "eth0")
	ext.MustRun(t, "ip", "-6", "addr", "add", External.V6.String()+"/64", "dev", "eth0", "nodad")
	ext.MustRun(t, "ip", "route", "add", "10.77.0.0/24", "via", "192.168.0.1")
	ext.MustRun(t, "ip", "-6", "route", "add", "fd00:77::/64", "via", "fd00:99::1")
	for _, port := range ServedPorts {
		ext.Listen(t, port)
	}
	b.pods = append(b.pods, ext) // index ExternalIndex
	b.reset(t)
	return b
}

// reset starts over with a new graph and Dataplane: the next world is programmed
// from scratch (replacing the table).
func (b *bench) reset(t *testing.T) {
	t.Helper()
	if b.dp != nil {
		_ = b.dp.Close()
	}
	dp, err := nftables.New(zap.NewNop(), nftables.WithNetNSFd(b.fd))
	if err != nil {
		t.Fatal(err)
	}
	b.graph, b.dp, b.prev = calc.New(zap.NewNop(), Node), dp, nil
}

// program moves the node from the previous world to l: the datastore difference goes
// through calc, and calc's output into the Dataplane.
func (b *bench) program(l *loaded) error {
	out := b.graph.Apply(transition(b.prev, l))
	if b.prev == nil {
		out = append(out, b.graph.InSync()...)
	}
	b.prev = l
	if err := checkCalc(b.graph); err != nil {
		return err
	}
	if err := b.dp.Apply(out); err != nil {
		return fmt.Errorf("programming the dataplane: %w", err)
	}
	// The evaluator decides new flows; a probe must not ride on a conntrack entry an
	// earlier world's probe left behind (the same UDP port or ICMP id again).
	return b.node.FlushConntrack()
}

// result is one probe's real outcome next to the evaluator's.
type result struct {
	flow  flow
	want  eval.Verdict
	got   bool
	error error
}

// probe sends every flow in parallel and returns those whose real verdict differs
// from the evaluator's, and how many the evaluator allows.
func (b *bench) probe(t *testing.T, l *loaded, flows []flow) (bad []result, allowed int) {
	t.Helper()
	results := make([]result, len(flows))
	for i, f := range flows {
		v, err := eval.Evaluate(l.eval, f.evalFlow())
		if err != nil {
			t.Fatalf("evaluating %s: %v", f, err)
		}
		results[i] = result{flow: f, want: v}
	}
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			r := &results[i]
			timeout := denyTimeout
			if r.want.Allowed {
				timeout = allowTimeout
			}
			r.error = b.send(r.flow, timeout)
			r.got = r.error == nil
		})
	}
	wg.Wait()
	for _, r := range results {
		if r.got != r.want.Allowed {
			bad = append(bad, r)
		}
		if r.want.Allowed {
			allowed++
		}
	}
	return bad, allowed
}

func (b *bench) send(f flow, timeout time.Duration) error {
	src := b.pods[f.src]
	dst := netip.AddrPortFrom(f.dstAddr(), f.port)
	switch f.proto {
	case policy.ProtocolTCP:
		return src.ProbeTCP(dst, timeout)
	case policy.ProtocolUDP:
		return src.ProbeUDP(dst, timeout)
	default:
		return src.Ping(dst.Addr(), timeout)
	}
}

// sample picks n flows of the world at random (seeded by the world).
func sample(w World, n int) []flow {
	flows := allFlows(w)
	r := rand.New(rand.NewPCG(w.Seed, 7))
	r.Shuffle(len(flows), func(i, j int) { flows[i], flows[j] = flows[j], flows[i] })
	return flows[:min(n, len(flows))]
}

// TestScenarios is issue 5's acceptance test: for every generated world, every probe's
// real verdict through calc and the nftables dataplane equals policy/eval's. Worlds
// follow each other on the same node, so the transitions between them also exercise
// the incremental paths of calc and the Dataplane; a mismatch is re-checked after
// programming the world from scratch, which tells an incremental bug from a rendering
// bug.
func TestScenarios(t *testing.T) {
	b := newBench(t)
	n := worldCount()
	t.Logf("worlds: seeds %d..%d (-scenario.seed=%d -scenario.count=%d)", *seedFlag, *seedFlag+uint64(n)-1, *seedFlag, n)
	probes, allowed, external, failedWorlds := 0, 0, 0, 0
	for i := range n {
		w := Generate(*seedFlag + uint64(i))
		l, err := load(w)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", w.Seed, err, w.YAML)
		}
		if err := b.program(l); err != nil {
			t.Fatalf("seed %d: %v\n%s", w.Seed, err, w.YAML)
		}
		flows := sample(w, probesPerWorld())
		probes += len(flows)
		for _, f := range flows {
			if f.src == ExternalIndex || f.dst == ExternalIndex {
				external++
			}
		}
		bad, ok := b.probe(t, l, flows)
		allowed += ok
		if len(bad) == 0 {
			continue
		}
		failedWorlds++
		ruleset, _ := b.node.Run("nft", "list", "table", "inet", "palisade")
		// Program the same world from scratch and probe the failures again.
		b.reset(t)
		fresh := "does not reproduce when programmed from scratch (an incremental bug)"
		if err := b.program(l); err != nil {
			fresh = "programming from scratch failed: " + err.Error()
		} else if again, _ := b.probe(t, l, flowsOf(bad)); len(again) > 0 {
			fresh = fmt.Sprintf("reproduces when programmed from scratch (%d of %d)", len(again), len(bad))
		}
		t.Errorf("seed %d (world %d of this run): %d of %d probes differ from policy/eval; %s\n%s\nworld:\n%s\nnft list table inet palisade:\n%s",
			w.Seed, i, len(bad), len(flows), fresh, describe(bad), w.YAML, ruleset)
		if failedWorlds >= 3 {
			t.Fatalf("stopping after %d failing worlds", failedWorlds)
		}
	}
	t.Logf("%d worlds, %d probes (%d allowed by policy/eval, %d to or from the external peer), %d worlds with mismatches",
		n, probes, allowed, external, failedWorlds)
}

func flowsOf(rs []result) []flow {
	out := make([]flow, len(rs))
	for i, r := range rs {
		out[i] = r.flow
	}
	return out
}

func describe(rs []result) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "  %s: real %s, policy/eval says:\n    %s\n", r.flow, word(r.got, r.error),
			strings.ReplaceAll(r.want.String(), "\n", "\n    "))
	}
	return b.String()
}

func word(allowed bool, err error) string {
	if allowed {
		return "ALLOW"
	}
	return fmt.Sprintf("DENY (%v)", err)
}
