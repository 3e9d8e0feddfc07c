package scenarios

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
)

// Node is the node every generated pod runs on.
const Node = "node1"

// Namespaces are the namespaces of every world; their labels vary.
var Namespaces = []string{"ns1", "ns2", "ns3"}

// ServedPorts are the ports every pod serves over TCP and UDP; probes target them.
var ServedPorts = []uint16{80, 81, 8080}

// Slot is one pod position: a fixed identity and fixed addresses, so a test can plumb
// the pods once and reuse them across worlds. Only labels, named ports and presence
// vary between worlds.
type Slot struct {
	Namespace, Name string
	V4, V6          netip.Addr
}

// Key is "namespace/name".
func (s Slot) Key() string { return s.Namespace + "/" + s.Name }

// Slots lists the pod positions: two pods per namespace.
func Slots() []Slot {
	var out []Slot
	for i := range 6 {
		out = append(out, Slot{
			Namespace: Namespaces[i%len(Namespaces)],
			Name:      fmt.Sprintf("p%d", i),
			V4:        netip.AddrFrom4([4]byte{10, 77, 0, byte(i + 1)}),
			V6:        netip.MustParseAddr(fmt.Sprintf("fd00:77::%x", i+1)),
		})
	}
	return out
}

// External is a peer that is not a pod: an address outside the pools, behind the
// node, that probes reach and that reaches the pods (policy matches it only by nets).
var External = Slot{Name: "external", V4: netip.MustParseAddr("192.168.0.10"), V6: netip.MustParseAddr("fd00:99::10")}

// ExternalIndex is External's index in flows, after the slots.
const ExternalIndex = 6

// Peer is slot i, or External for ExternalIndex.
func Peer(i int) Slot {
	if i == ExternalIndex {
		return External
	}
	return Slots()[i]
}

// World is one generated world: its YAML (namespaces, pods, sets, tiers, policies)
// and which slots hold a pod.
type World struct {
	Seed    uint64
	YAML    string
	Present []bool // by slot index
	HasV6   []bool // by slot index: the pod has its IPv6 address too
}

// gen carries the random source and the output of one world.
type gen struct {
	r *rand.Rand
	b strings.Builder
	n int // policy counter for unique names
}

// Generate builds the world for seed. The same seed always gives the same world.
func Generate(seed uint64) World {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	w := World{Seed: seed}
	for _, ns := range Namespaces {
		g.namespace(ns)
		g.serviceAccount(ns)
	}
	for _, s := range Slots() {
		present := g.r.IntN(10) != 0
		// Some pods are IPv4-only: sets then lose or gain a family between worlds.
		v6 := present && g.r.IntN(5) != 0
		w.Present = append(w.Present, present)
		w.HasV6 = append(w.HasV6, v6)
		if present {
			g.pod(s, v6)
		}
	}
	if g.chance(30) {
		g.networkSet()
	}
	tiers := g.tiers()
	for range g.r.IntN(5) {
		switch g.r.IntN(3) {
		case 0:
			g.kubernetesPolicy()
		case 1:
			g.calicoPolicy(false, tiers)
		default:
			g.calicoPolicy(true, tiers)
		}
	}
	w.YAML = g.b.String()
	return w
}

func (g *gen) chance(percent int) bool { return g.r.IntN(100) < percent }

func pick[T any](g *gen, xs ...T) T { return xs[g.r.IntN(len(xs))] }

func (g *gen) doc(format string, args ...any) {
	g.b.WriteString("---\n")
	fmt.Fprintf(&g.b, format, args...)
}

// labels renders a random subset of the candidate labels as a YAML flow map.
func (g *gen) labels(cands map[string][]string, keys []string, percent int, fixed ...string) string {
	parts := append([]string(nil), fixed...)
	for _, k := range keys {
		if g.chance(percent) {
			parts = append(parts, fmt.Sprintf("%s: %q", k, pick(g, cands[k]...)))
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

var (
	podLabelValues = map[string][]string{"app": {"web", "db", "api"}, "tier": {"front", "back"}, "color": {"red", "green"}}
	podLabelKeys   = []string{"app", "tier", "color"}
	nsLabelValues  = map[string][]string{"team": {"a", "b"}, "env": {"prod", "dev"}}
	nsLabelKeys    = []string{"team", "env"}
	saRoles        = []string{"frontend", "backend"}
)

func (g *gen) namespace(name string) {
	// kubernetes.io/metadata.name is set as the API server sets it.
	g.doc("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels: %s\n", name,
		g.labels(nsLabelValues, nsLabelKeys, 60, fmt.Sprintf("kubernetes.io/metadata.name: %q", name)))
}

func (g *gen) serviceAccount(ns string) {
	if g.chance(70) {
		g.doc("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: robot\n  namespace: %s\n  labels: {role: %q}\n",
			ns, pick(g, saRoles...))
	}
}

func (g *gen) pod(s Slot, v6 bool) {
	var ports []string
	if g.chance(70) {
		ports = append(ports, fmt.Sprintf("{name: web, containerPort: %d, protocol: TCP}", pick(g, 80, 8080)))
	}
	if g.chance(50) {
		ports = append(ports, fmt.Sprintf("{name: alt, containerPort: %d, protocol: UDP}", pick(g, 80, 81)))
	}
	ips := fmt.Sprintf("[{ip: %s}]", s.V4)
	if v6 {
		ips = fmt.Sprintf("[{ip: %s}, {ip: %s}]", s.V4, s.V6)
	}
	// serviceAccountName is always set, as the API server's admission does.
	g.doc(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: %s
  labels: %s
spec:
  nodeName: %s
  serviceAccountName: %s
  containers: [{name: c, image: agnhost, ports: [%s]}]
status:
  podIP: %s
  podIPs: %s
`, s.Name, s.Namespace, g.labels(podLabelValues, podLabelKeys, 60), Node, pick(g, "default", "robot"),
		strings.Join(ports, ", "), s.V4, ips)
}

func (g *gen) networkSet() {
	nets := []string{g.net(4), g.net(6)}
	if g.chance(50) {
		g.doc("apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: gns\n  labels: {app: %q}\nspec:\n  nets: [%s]\n",
			pick(g, podLabelValues["app"]...), strings.Join(nets, ", "))
		return
	}
	g.doc("apiVersion: projectcalico.org/v3\nkind: NetworkSet\nmetadata:\n  name: ns\n  namespace: %s\n  labels: {app: %q}\nspec:\n  nets: [%s]\n",
		pick(g, Namespaces...), pick(g, podLabelValues["app"]...), strings.Join(nets, ", "))
}

// tiers declares zero to two tiers before the default one and returns their names.
func (g *gen) tiers() []string {
	var names []string
	for i, order := range []int{100, 200} {
		if !g.chance(35) {
			continue
		}
		name := fmt.Sprintf("t%d", i+1)
		names = append(names, name)
		g.doc("apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: %s}\nspec:\n  order: %d\n  defaultAction: %s\n",
			name, order, pick(g, "Deny", "Deny", "Pass"))
	}
	return names
}

// net is a CIDR of the given family: around the pods' addresses, or elsewhere.
func (g *gen) net(family int) string {
	return quote(g.rawNet(family))
}

func (g *gen) rawNet(family int) string {
	if family == 4 {
		return pick(g, "10.77.0.0/29", "10.77.0.0/30", "10.77.0.4/30", "10.77.0.2/31", "10.77.0.3/32",
			"10.77.0.5/32", "10.77.0.0/16", "192.168.0.0/24", "192.168.0.10/32", "192.168.1.0/24", "0.0.0.0/0")
	}
	return pick(g, "fd00:77::/125", "fd00:77::/126", "fd00:77::4/126", "fd00:77::2/127", "fd00:77::3/128",
		"fd00:77::5/128", "fd00:77::/64", "fd00:99::/64", "fd00:99::10/128", "fd00:98::/64", "::/0")
}

// selector is a random Calico selector over the pod labels.
func (g *gen) selector() string {
	atom := func() string {
		k := pick(g, podLabelKeys...)
		v := pick(g, podLabelValues[k]...)
		switch g.r.IntN(8) {
		case 0:
			return fmt.Sprintf("%s != '%s'", k, v)
		case 1:
			return fmt.Sprintf("%s in {'%s', '%s'}", k, v, pick(g, podLabelValues[k]...))
		case 2:
			return fmt.Sprintf("%s not in {'%s'}", k, v)
		case 3:
			return fmt.Sprintf("has(%s)", k)
		case 4:
			return fmt.Sprintf("!has(%s)", k)
		case 5:
			return fmt.Sprintf("%s starts with '%s'", k, v[:1])
		default:
			return fmt.Sprintf("%s == '%s'", k, v)
		}
	}
	switch g.r.IntN(10) {
	case 0:
		return "all()"
	case 1:
		return atom() + " && " + atom()
	case 2:
		return "(" + atom() + " || " + atom() + ")"
	default:
		return atom()
	}
}

func (g *gen) namespaceSelector() string {
	k := pick(g, nsLabelKeys...)
	v := pick(g, nsLabelValues[k]...)
	return pick(g, fmt.Sprintf("%s == '%s'", k, v), fmt.Sprintf("has(%s)", k), fmt.Sprintf("%s != '%s'", k, v),
		fmt.Sprintf("kubernetes.io/metadata.name == '%s'", pick(g, Namespaces...)), "all()")
}

func quote(s string) string { return fmt.Sprintf("%q", s) }
