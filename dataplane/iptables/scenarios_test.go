package iptables

// Generated scenarios (test/scenarios) through calc into this backend, every probe
// compared with policy/eval: the nftables backend's acceptance test, run here with
// the iptables dataplane. The world loading and flow helpers follow
// test/scenarios/world_test.go (test files are not importable).

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/palisadenet/palisade/calc"
	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/calc/ifacename"
	"github.com/palisadenet/palisade/ctl/offline"
	"github.com/palisadenet/palisade/internal/netnstest"
	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/policy/eval"
	"github.com/palisadenet/palisade/resource"
	sc "github.com/palisadenet/palisade/test/scenarios"
)

var (
	seedFlag  = flag.Uint64("scenario.seed", 1, "seed of the first generated world (world i uses seed+i)")
	countFlag = flag.Int("scenario.count", 0, "worlds per backend (0: 220)")
)

func worldCount() int {
	if *countFlag > 0 {
		return *countFlag
	}
	return 220
}

const (
	scenarioAllow  = 3 * time.Second
	scenarioDeny   = 700 * time.Millisecond
	probesPerWorld = 28
)

type loaded struct {
	sc.World
	eval  *eval.World
	batch map[datastore.Key]datastore.Update
}

func load(w sc.World) (*loaded, error) {
	objs, err := resource.Decode(fmt.Sprintf("world-%d.yaml", w.Seed), []byte(w.YAML))
	if err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	ew, warnings, err := offline.BuildWorld(objs)
	if err != nil {
		return nil, fmt.Errorf("building the evaluator's world: %w", err)
	}
	if len(warnings) > 0 {
		return nil, fmt.Errorf("building the evaluator's world: %s", strings.Join(warnings, "; "))
	}
	l := &loaded{World: w, eval: ew, batch: map[datastore.Key]datastore.Update{}}
	for _, o := range objs {
		u, err := datastore.UpdateOf(o.Obj)
		if err != nil {
			return nil, fmt.Errorf("%v: %w", o.Source, err)
		}
		l.batch[u.Key] = u
	}
	return l, nil
}

// transition is the datastore batch that turns world prev (nil: empty) into next.
func transition(prev, next *loaded) []datastore.Update {
	var out []datastore.Update
	if prev != nil {
		for k := range prev.batch {
			if _, ok := next.batch[k]; !ok {
				out = append(out, datastore.Update{Key: k})
			}
		}
	}
	for _, u := range next.batch {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b datastore.Update) int { return strings.Compare(a.Key.String(), b.Key.String()) })
	return out
}

type flow struct {
	src, dst int
	proto    policy.Protocol
	v6       bool
	port     uint16
}

func (f flow) String() string {
	fam := "v4"
	if f.v6 {
		fam = "v6"
	}
	return fmt.Sprintf("%s -> %s %s/%d (%s)", sc.Peer(f.src).Key(), sc.Peer(f.dst).Key(), f.proto, f.port, fam)
}

func (f flow) addrs() (src, dst netip.Addr) {
	if f.v6 {
		return sc.Peer(f.src).V6, sc.Peer(f.dst).V6
	}
	return sc.Peer(f.src).V4, sc.Peer(f.dst).V4
}

func (f flow) evalFlow() eval.Flow {
	src, dst := f.addrs()
	ef := eval.Flow{Source: eval.IPPeer(src), Destination: eval.IPPeer(dst), Protocol: f.proto, Port: f.port}
	if f.src != sc.ExternalIndex {
		ef.Source.Pod = sc.Peer(f.src).Key()
	}
	if f.dst != sc.ExternalIndex {
		ef.Destination.Pod = sc.Peer(f.dst).Key()
	}
	switch f.proto {
	case policy.ProtocolICMP:
		ef.ICMPType = 8
	case policy.ProtocolICMPv6:
		ef.ICMPType = 128
	}
	return ef
}

// sampleFlows picks n flows between present pods and the external peer (IPv6 only
// where both ends have it), seeded by the world.
func sampleFlows(w sc.World, n int) []flow {
	hasV6 := func(i int) bool { return i == sc.ExternalIndex || w.HasV6[i] }
	present := func(i int) bool { return i == sc.ExternalIndex || w.Present[i] }
	var out []flow
	for src := 0; src <= sc.ExternalIndex; src++ {
		for dst := 0; dst <= sc.ExternalIndex; dst++ {
			if src == dst || !present(src) || !present(dst) {
				continue
			}
			for _, v6 := range []bool{false, true} {
				if v6 && (!hasV6(src) || !hasV6(dst)) {
					continue
				}
				icmp := policy.ProtocolICMP
				if v6 {
					icmp = policy.ProtocolICMPv6
				}
				out = append(out, flow{src: src, dst: dst, proto: icmp, v6: v6})
				for _, port := range sc.ServedPorts {
					out = append(out, flow{src, dst, policy.ProtocolTCP, v6, port}, flow{src, dst, policy.ProtocolUDP, v6, port})
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(w.Seed, 7))
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out[:min(n, len(out))]
}

// scenarioBench is one node namespace with a pod namespace per slot, the external
// peer behind eth9, and calc feeding an iptables Dataplane.
type scenarioBench struct {
	mode  Mode
	node  *netnstest.NS
	peers []*netnstest.NS
	graph *calc.Graph
	dp    *Dataplane
	prev  *loaded
}

func newScenarioBench(t *testing.T, mode Mode) *scenarioBench {
	t.Helper()
	netnstest.Require(t, tools...)
	b := &scenarioBench{mode: mode, node: netnstest.New(t, "node")}
	for _, s := range sc.Slots() {
		pod := netnstest.New(t, s.Name)
		netnstest.AttachPod(t, b.node, pod, ifacename.Workload(s.Namespace, s.Name),
			netip.PrefixFrom(s.V4, 32), netip.PrefixFrom(s.V6, 128))
		for _, port := range sc.ServedPorts {
			pod.Listen(t, port)
		}
		b.peers = append(b.peers, pod)
	}
	ext := netnstest.New(t, "ext")
	netnstest.Veth(t, b.node, "eth9", ext, "eth0")
	b.node.MustRun(t, "ip", "addr", "add", "192.168.0.1/24", "dev", "eth9")
	b.node.MustRun(t, "ip", "-6", "addr", "add", "fd00:99::1/64", "dev", "eth9", "nodad")
	ext.MustRun(t, "ip", "addr", "add", sc.External.V4.String()+"/24", "dev", "eth0")
	ext.MustRun(t, "ip", "-6", "addr", "add", sc.External.V6.String()+"/64", "dev", "eth0", "nodad")
	ext.MustRun(t, "ip", "route", "add", "10.77.0.0/24", "via", "192.168.0.1")
	ext.MustRun(t, "ip", "-6", "route", "add", "fd00:77::/64", "via", "fd00:99::1")
	for _, port := range sc.ServedPorts {
		ext.Listen(t, port)
	}
	b.peers = append(b.peers, ext)
	b.reset(t)
	return b
}

// reset starts over with a new graph and Dataplane (which adopts what is in the kernel).
func (b *scenarioBench) reset(t *testing.T) {
	t.Helper()
	dp, err := New(zap.NewNop(), WithNetNS(b.node.Path()), WithMode(b.mode))
	if err != nil {
		t.Fatal(err)
	}
	b.graph, b.dp, b.prev = calc.New(zap.NewNop(), sc.Node), dp, nil
}

func (b *scenarioBench) program(l *loaded) error {
	out := b.graph.Apply(transition(b.prev, l))
	if b.prev == nil {
		out = append(out, b.graph.InSync()...)
	}
	b.prev = l
	if st := b.graph.Status(); len(st.Invalid) > 0 {
		return fmt.Errorf("calc rejected objects: %+v", st.Invalid)
	}
	if err := b.dp.Apply(out); err != nil {
		return fmt.Errorf("programming the dataplane: %w", err)
	}
	return b.node.FlushConntrack()
}

type scenarioResult struct {
	flow flow
	want eval.Verdict
	got  bool
	err  error
}

func (b *scenarioBench) probe(t *testing.T, l *loaded, flows []flow) (bad []scenarioResult) {
	t.Helper()
	results := make([]scenarioResult, len(flows))
	for i, f := range flows {
		v, err := eval.Evaluate(l.eval, f.evalFlow())
		if err != nil {
			t.Fatalf("evaluating %s: %v", f, err)
		}
		results[i] = scenarioResult{flow: f, want: v}
	}
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			r := &results[i]
			timeout := scenarioDeny
			if r.want.Allowed {
				timeout = scenarioAllow
			}
			r.err = b.send(r.flow, timeout)
			r.got = r.err == nil
		})
	}
	wg.Wait()
	for _, r := range results {
		if r.got != r.want.Allowed {
			bad = append(bad, r)
		}
	}
	return bad
}

func (b *scenarioBench) send(f flow, timeout time.Duration) error {
	src := b.peers[f.src]
	_, dstAddr := f.addrs()
	dst := netip.AddrPortFrom(dstAddr, f.port)
	switch f.proto {
	case policy.ProtocolTCP:
		return src.ProbeTCP(dst, timeout)
	case policy.ProtocolUDP:
		return src.ProbeUDP(dst, timeout)
	default:
		return src.Ping(dst.Addr(), timeout)
	}
}

// TestGeneratedScenarios: for every generated world, every probe's real verdict
// through calc and the iptables dataplane equals policy/eval's, with each installed
// backend. Worlds follow each other on one node, so transitions exercise the
// incremental paths too.
func TestGeneratedScenarios(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode Mode) {
		b := newScenarioBench(t, mode)
		n := worldCount()
		t.Logf("worlds: seeds %d..%d (-scenario.seed=%d -scenario.count=%d)", *seedFlag, *seedFlag+uint64(n)-1, *seedFlag, n)
		probes, failed := 0, 0
		for i := range n {
			w := sc.Generate(*seedFlag + uint64(i))
			l, err := load(w)
			if err != nil {
				t.Fatalf("seed %d: %v\n%s", w.Seed, err, w.YAML)
			}
			if err := b.program(l); err != nil {
				t.Fatalf("seed %d: %v\n%s", w.Seed, err, w.YAML)
			}
			flows := sampleFlows(w, probesPerWorld)
			probes += len(flows)
			bad := b.probe(t, l, flows)
			if len(bad) == 0 {
				continue
			}
			failed++
			var desc strings.Builder
			for _, r := range bad {
				fmt.Fprintf(&desc, "  %s: real allowed=%v (%v), policy/eval:\n    %s\n", r.flow, r.got, r.err,
					strings.ReplaceAll(r.want.String(), "\n", "\n    "))
			}
			saved, _ := b.node.Run(binariesFor(mode).save[0])
			t.Errorf("seed %d: %d of %d probes differ from policy/eval\n%s\nworld:\n%s\niptables-save:\n%s",
				w.Seed, len(bad), len(flows), desc.String(), w.YAML, saved)
			if failed >= 3 {
				t.Fatalf("stopping after %d failing worlds", failed)
			}
		}
		t.Logf("%d worlds, %d probes, %d worlds with mismatches", n, probes, failed)
	})
}
