package scenarios

import (
	"flag"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/palisadenet/palisade/calc"
	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/ctl/offline"
	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/policy/eval"
	"github.com/palisadenet/palisade/resource"
)

var (
	seedFlag  = flag.Uint64("scenario.seed", 1, "seed of the first generated world (world i uses seed+i)")
	countFlag = flag.Int("scenario.count", 0, "number of worlds (0: 220, or 30 with -short)")
)

func worldCount() int {
	switch {
	case *countFlag > 0:
		return *countFlag
	case testing.Short():
		return 30
	}
	return 220
}

// loaded is a generated world decoded for both sides of the comparison.
type loaded struct {
	World
	objs  []resource.Object
	eval  *eval.World
	batch map[datastore.Key]datastore.Update
}

// load decodes a world's YAML and builds the evaluator's World and the datastore
// updates calc consumes. A warning or decode error is a generator bug.
func load(w World) (*loaded, error) {
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
	l := &loaded{World: w, objs: objs, eval: ew, batch: map[datastore.Key]datastore.Update{}}
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

// checkCalc fails when calc found an invalid object: the generator must produce
// valid input, or mismatches would only measure validation.
func checkCalc(g *calc.Graph) error {
	st := g.Status()
	if len(st.Invalid) == 0 {
		return nil
	}
	var lines []string
	for _, inv := range st.Invalid {
		lines = append(lines, inv.Key.String()+": "+strings.Join(inv.Problems, "; "))
	}
	return fmt.Errorf("calc rejected objects: %s", strings.Join(lines, "\n"))
}

// flow is one probe: from a slot to a slot over a protocol, family and port.
type flow struct {
	src, dst int
	proto    policy.Protocol // TCP, UDP, or ICMP (ICMPv6 for IPv6)
	v6       bool
	port     uint16
}

func (f flow) String() string {
	fam := "v4"
	if f.v6 {
		fam = "v6"
	}
	src, dst := Peer(f.src).Key(), Peer(f.dst).Key()
	if f.proto.IsICMP() {
		return fmt.Sprintf("%s -> %s %s echo (%s)", src, dst, f.proto, fam)
	}
	return fmt.Sprintf("%s -> %s %s/%d (%s)", src, dst, f.proto, f.port, fam)
}

func (f flow) addrs() (src, dst netip.Addr) {
	if f.v6 {
		return Peer(f.src).V6, Peer(f.dst).V6
	}
	return Peer(f.src).V4, Peer(f.dst).V4
}

func (f flow) dstAddr() netip.Addr {
	_, dst := f.addrs()
	return dst
}

// evalFlow is the flow as the reference evaluator sees it: pods by name and address,
// the external peer by address only.
func (f flow) evalFlow() eval.Flow {
	src, dst := f.addrs()
	ef := eval.Flow{Source: eval.IPPeer(src), Destination: eval.IPPeer(dst), Protocol: f.proto, Port: f.port}
	if f.src != ExternalIndex {
		ef.Source.Pod = Peer(f.src).Key()
	}
	if f.dst != ExternalIndex {
		ef.Destination.Pod = Peer(f.dst).Key()
	}
	switch f.proto {
	case policy.ProtocolICMP:
		ef.ICMPType = 8
	case policy.ProtocolICMPv6:
		ef.ICMPType = 128
	}
	return ef
}

// allFlows lists every probe between present pods, and between each present pod and
// the external peer both ways, over IPv6 only where both ends have an IPv6 address.
func allFlows(w World) []flow {
	hasV6 := func(i int) bool { return i == ExternalIndex || w.HasV6[i] }
	present := func(i int) bool { return i == ExternalIndex || w.Present[i] }
	var out []flow
	for src := 0; src <= ExternalIndex; src++ {
		for dst := 0; dst <= ExternalIndex; dst++ {
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
				for _, port := range ServedPorts {
					out = append(out, flow{src, dst, policy.ProtocolTCP, v6, port}, flow{src, dst, policy.ProtocolUDP, v6, port})
				}
			}
		}
	}
	return out
}

// TestGeneratedWorldsAreValid runs without root: every generated world decodes, the
// evaluator and calc accept it without warnings, calc emits an endpoint for every
// present pod, and the worlds are diverse enough to be worth probing (allowed and
// denied flows, every policy kind, tiers).
func TestGeneratedWorldsAreValid(t *testing.T) {
	kinds := map[string]int{}
	var mixed, tiered int
	worlds := 300
	if testing.Short() {
		worlds = 100
	}
	for i := range worlds {
		w := Generate(*seedFlag + uint64(i))
		l, err := load(w)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", w.Seed, err, w.YAML)
		}
		g := calc.New(zap.NewNop(), Node)
		out := append(g.Apply(transition(nil, l)), g.InSync()...)
		if err := checkCalc(g); err != nil {
			t.Fatalf("seed %d: %v\n%s", w.Seed, err, w.YAML)
		}
		endpoints := 0
		for _, u := range out {
			if u.EndpointUpdate != nil {
				endpoints++
			}
		}
		if want := countTrue(w.Present); endpoints != want {
			t.Errorf("seed %d: calc emitted %d endpoints, want %d", w.Seed, endpoints, want)
		}
		var allowed, denied int
		for _, f := range allFlows(w) {
			v, err := eval.Evaluate(l.eval, f.evalFlow())
			if err != nil {
				t.Fatalf("seed %d: %s: %v", w.Seed, f, err)
			}
			if v.Allowed {
				allowed++
			} else {
				denied++
			}
		}
		if allowed > 0 && denied > 0 {
			mixed++
		}
		for k := range l.batch {
			kinds[string(k.Kind)]++
		}
		if strings.Contains(w.YAML, "kind: Tier") {
			tiered++
		}
	}
	t.Logf("%d worlds: %d with both allowed and denied flows, %d with tiers, objects %v", worlds, mixed, tiered, kinds)
	if mixed < worlds/3 {
		t.Errorf("only %d of %d worlds mix allowed and denied flows", mixed, worlds)
	}
	if tiered < worlds/6 {
		t.Errorf("only %d of %d worlds have tiers", tiered, worlds)
	}
	for _, k := range []string{"NetworkPolicy", "GlobalNetworkPolicy", "NetworkSet", "GlobalNetworkSet", "ServiceAccount"} {
		if kinds[k] == 0 {
			t.Errorf("no %s generated", k)
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	for seed := range uint64(20) {
		a, b := Generate(seed), Generate(seed)
		if a.YAML != b.YAML {
			t.Fatalf("seed %d generates different worlds", seed)
		}
	}
	if Generate(1).YAML == Generate(2).YAML {
		t.Error("seeds 1 and 2 generate the same world")
	}
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
