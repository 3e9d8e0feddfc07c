package calc

import (
	"fmt"
	"math/rand/v2"
	"testing"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/calc/desired"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// gen makes random datastore events over a small universe of names, so objects
// keep colliding: pods share IPs, network sets overlap pods, selectors are shared
// by several policies, and namespaces and service accounts come and go under their
// pods.
type gen struct{ r *rand.Rand }

func (g gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g gen) labels(keys ...string) map[string]string {
	l := map[string]string{}
	for _, k := range keys {
		if g.r.IntN(3) > 0 {
			l[k] = g.pick("a", "b", "c")
		}
	}
	return l
}

var (
	genNamespaces = []string{"n0", "n1", "n2", "n3"}
	genSelectors  = []string{
		"", "all()", "app == 'a'", "app != 'b'", "has(app)", "!has(role)", "app in {'a', 'b'}",
		"role == 'a' || app == 'c'", "app == 'a' && role not in {'b'}", "app starts with 'a'",
		"app == ", // invalid
	}
	genNsSelectors = []string{"", "", "team == 'a'", "all()", "global()", "has(env)", "kubernetes.io/metadata.name == 'n1'"}
	genPorts       = []string{"http", "dns", "80", "1000:2000"}
	genNets        = []string{"10.0.0.0/29", "10.0.0.3/32", "10.0.0.8/30", "192.0.2.0/24", "fd00::/126", "10.0.0.99"}
)

func (g gen) event() datastore.Update {
	ns := g.pick(genNamespaces...)
	name := fmt.Sprintf("x%d", g.r.IntN(6))
	var key datastore.Key
	var obj func() runtime.Object
	switch g.r.IntN(12) {
	case 0:
		key, obj = datastore.Key{Kind: datastore.KindNamespace, Name: ns}, g.namespace
	case 1:
		key, obj = datastore.Key{Kind: datastore.KindServiceAccount, Namespace: ns, Name: g.pick("sa0", "sa1")}, g.serviceAccount
	case 2, 3, 4:
		key, obj = datastore.Key{Kind: datastore.KindPod, Namespace: ns, Name: name}, g.pod
	case 5:
		key, obj = datastore.Key{Kind: datastore.KindKubernetesNetworkPolicy, Namespace: ns, Name: g.pick("k0", "k1")}, g.k8sPolicy
	case 6:
		key, obj = datastore.Key{Kind: datastore.KindNetworkPolicy, Namespace: ns, Name: g.pick("p0", "p1")}, g.v3Policy
	case 7:
		key, obj = datastore.Key{Kind: datastore.KindGlobalNetworkPolicy, Name: g.pick("g0", "g1", "g2")}, g.globalPolicy
	case 8:
		if g.r.IntN(2) == 0 {
			key, obj = datastore.Key{Kind: datastore.KindNetworkSet, Namespace: ns, Name: "s0"}, g.networkSet
		} else {
			key, obj = datastore.Key{Kind: datastore.KindGlobalNetworkSet, Name: g.pick("gs0", "gs1")}, g.networkSet
		}
	case 9:
		key, obj = datastore.Key{Kind: datastore.KindTier, Name: g.pick("t1", "default")}, g.tier
	case 10:
		key, obj = datastore.Key{Kind: datastore.KindHostEndpoint, Name: g.pick("h0", "h1")}, g.hostEndpoint
	default:
		key, obj = datastore.Key{Kind: datastore.KindFelixConfiguration, Name: g.pick("default", "node."+testNode, "node.node2")}, g.felixConfiguration
	}
	if g.r.IntN(4) == 0 {
		return datastore.Update{Key: key}
	}
	o := obj()
	m := o.(metav1.Object)
	m.SetName(key.Name)
	m.SetNamespace(key.Namespace)
	return datastore.Update{Key: key, Object: o}
}

func (g gen) namespace() runtime.Object {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Labels: g.labels("team", "env")}}
}

func (g gen) serviceAccount() runtime.Object {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Labels: g.labels("level")}}
}

func (g gen) pod() runtime.Object {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: g.labels("app", "role")}}
	p.Spec.NodeName = g.pick(testNode, testNode, "node2")
	p.Spec.ServiceAccountName = g.pick("", "sa0", "sa1")
	p.Spec.HostNetwork = g.r.IntN(20) == 0
	var ports []corev1.ContainerPort
	for range g.r.IntN(3) {
		ports = append(ports, corev1.ContainerPort{Name: g.pick("http", "dns"), ContainerPort: int32(80 + g.r.IntN(3)),
			Protocol: corev1.Protocol(g.pick("", "TCP", "UDP"))})
	}
	p.Spec.Containers = []corev1.Container{{Name: "c", Ports: ports}}
	switch g.r.IntN(6) {
	case 0: // no IP yet
	case 1:
		p.Status.PodIPs = []corev1.PodIP{{IP: fmt.Sprintf("10.0.0.%d", g.r.IntN(12))}, {IP: fmt.Sprintf("fd00::%d", g.r.IntN(4))}}
	default:
		p.Status.PodIP = fmt.Sprintf("10.0.0.%d", g.r.IntN(12))
	}
	if g.r.IntN(15) == 0 {
		p.Status.Phase = corev1.PodSucceeded
	}
	return p
}

func (g gen) k8sPolicy() runtime.Object {
	np := &networkingv1.NetworkPolicy{}
	np.Spec.PodSelector = metav1.LabelSelector{MatchLabels: g.labels("app")}
	peer := func() networkingv1.NetworkPolicyPeer {
		switch g.r.IntN(4) {
		case 0:
			return networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: g.labels("app", "role")}}
		case 1:
			return networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: g.labels("team")}}
		case 2:
			return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/24", Except: []string{"10.0.0.4/30"}}}
		}
		return networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: g.labels("app")},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: g.labels("env")}}
	}
	port := func() networkingv1.NetworkPolicyPort {
		p := intstr.FromString(g.pick("http", "dns"))
		if g.r.IntN(2) == 0 {
			p = intstr.FromInt32(80)
		}
		return networkingv1.NetworkPolicyPort{Port: &p}
	}
	for range g.r.IntN(3) {
		rule := networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{peer()}}
		if g.r.IntN(2) == 0 {
			rule.Ports = []networkingv1.NetworkPolicyPort{port()}
		}
		np.Spec.Ingress = append(np.Spec.Ingress, rule)
	}
	if g.r.IntN(2) == 0 {
		np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{peer()}, Ports: []networkingv1.NetworkPolicyPort{port()}}}
	}
	if g.r.IntN(12) == 0 {
		np.Spec.PolicyTypes = []networkingv1.PolicyType{"Sideways"} // invalid
	}
	return np
}

func (g gen) rules() []v3.Rule {
	var out []v3.Rule
	for range g.r.IntN(3) {
		r := v3.Rule{Action: v3.Action(g.pick("Allow", "Deny", "Pass", "Log", "Allow"))}
		tcp := v3.ProtocolFromName("TCP")
		if g.r.IntN(2) == 0 {
			r.Protocol = &tcp
		}
		r.Source = g.entity(false)
		r.Destination = g.entity(r.Protocol != nil)
		out = append(out, r)
	}
	return out
}

func (g gen) entity(ports bool) v3.EntityRule {
	e := v3.EntityRule{}
	if g.r.IntN(2) == 0 {
		e.Selector = g.pick(genSelectors...)
	}
	if g.r.IntN(4) == 0 {
		e.NotSelector = g.pick(genSelectors[2:6]...)
	}
	e.NamespaceSelector = g.pick(genNsSelectors...)
	if g.r.IntN(4) == 0 {
		e.Nets = []string{g.pick(genNets...)}
	}
	if g.r.IntN(6) == 0 {
		e.ServiceAccounts = &v3.ServiceAccountMatch{Names: []string{g.pick("sa0", "sa1")}, Selector: g.pick("", "level == 'a'")}
	}
	if ports && g.r.IntN(2) == 0 {
		e.Ports = []v3.Port{v3.PortFromString(g.pick(genPorts...))}
	}
	if ports && g.r.IntN(5) == 0 {
		e.NotPorts = []v3.Port{v3.PortFromString(g.pick(genPorts...))}
	}
	return e
}

func (g gen) order() *float64 {
	if g.r.IntN(4) == 0 {
		return nil
	}
	o := float64(g.r.IntN(3) * 100)
	return &o
}

func (g gen) v3Policy() runtime.Object {
	p := &v3.NetworkPolicy{}
	p.Spec.Tier = g.pick("", "default", "t1", "t2")
	p.Spec.Order = g.order()
	p.Spec.Selector = g.pick(genSelectors...)
	p.Spec.Ingress = g.rules()
	p.Spec.Egress = g.rules()
	return p
}

func (g gen) globalPolicy() runtime.Object {
	p := &v3.GlobalNetworkPolicy{}
	p.Spec.Tier = g.pick("", "t1")
	p.Spec.Order = g.order()
	p.Spec.Selector = g.pick(genSelectors...)
	p.Spec.NamespaceSelector = g.pick("", "team == 'b'", "has(env)")
	p.Spec.Ingress = g.rules()
	if g.r.IntN(2) == 0 {
		p.Spec.Egress = g.rules()
		p.Spec.Types = []v3.PolicyType{"Ingress", "Egress"}
	}
	return p
}

func (g gen) networkSet() runtime.Object {
	nets := []string{g.pick(genNets...), g.pick(genNets...)}
	if g.r.IntN(10) == 0 {
		nets = append(nets, "not-a-cidr")
	}
	labels := g.labels("role", "app")
	if g.r.IntN(2) == 0 {
		return &v3.NetworkSet{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: v3.NetworkSetSpec{Nets: nets}}
	}
	return &v3.GlobalNetworkSet{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: v3.GlobalNetworkSetSpec{Nets: nets}}
}

func (g gen) hostEndpoint() runtime.Object {
	h := &v3.HostEndpoint{ObjectMeta: metav1.ObjectMeta{Labels: g.labels("role", "app")}}
	h.Spec.Node = g.pick(testNode, "node2")
	h.Spec.InterfaceName = g.pick("eth0", "*")
	for range g.r.IntN(3) {
		h.Spec.ExpectedIPs = append(h.Spec.ExpectedIPs, g.pick("10.0.0.3", "10.0.0.50", "fd00::1", "bogus"))
	}
	if g.r.IntN(2) == 0 {
		h.Spec.Ports = []v3.EndpointPort{{Name: "http", Protocol: v3.ProtocolFromName("TCP"), Port: 8080}}
	}
	// Service-account profiles come and go with the generated service accounts.
	for range g.r.IntN(3) {
		h.Spec.Profiles = append(h.Spec.Profiles, g.pick(DefaultAllowProfile, "kns.n0", "ksa.n1.sa0", "ksa.n2.sa1", "no-such-profile"))
	}
	return h
}

func (g gen) felixConfiguration() runtime.Object {
	fc := &v3.FelixConfiguration{}
	fc.Spec.DefaultEndpointToHostAction = g.pick("", "", "Accept", "Drop", "Return", "Bogus")
	ports := func() []v3.ProtoPort {
		switch g.r.IntN(3) {
		case 0:
			return nil // unset: the defaults
		case 1:
			return []v3.ProtoPort{} // none
		}
		var out []v3.ProtoPort
		for range 1 + g.r.IntN(2) {
			out = append(out, v3.ProtoPort{Protocol: g.pick("", "TCP", "udp", "ICMP"), Port: uint16(20 + g.r.IntN(3)),
				Net: g.pick("", "", "10.0.0.0/8", "fd00::1", "bad")})
		}
		return out
	}
	fc.Spec.FailsafeInboundHostPorts, fc.Spec.FailsafeOutboundHostPorts = ports(), ports()
	return fc
}

func (g gen) tier() runtime.Object {
	t := &v3.Tier{}
	t.Spec.Order = g.order()
	if g.r.IntN(2) == 0 {
		pass := v3.Pass
		t.Spec.DefaultAction = &pass
	}
	return t
}

// fixKind makes the update's key match the object (the generator picks the kind of
// a network set object independently of the key).
func fixKind(u datastore.Update) datastore.Update {
	if u.Object == nil {
		return u
	}
	k, err := datastore.KeyOf(u.Object)
	if err != nil {
		panic(err)
	}
	switch {
	case k.Kind == datastore.KindGlobalNetworkSet:
		k.Namespace = ""
		u.Object.(metav1.Object).SetNamespace("")
	case k.Kind == datastore.KindNetworkSet && k.Namespace == "":
		k.Namespace = "n0"
		u.Object.(metav1.Object).SetNamespace("n0")
	}
	u.Key = k
	return u
}

func applyToWorld(w world, u datastore.Update) {
	if u.Object == nil {
		delete(w, u.Key)
	} else {
		w[u.Key] = u.Object
	}
}

// TestIncrementalEqualsFromScratch applies 10,000 random events one at a time and
// checks after each that the state built from the graph's output equals the
// reference computation over the same datastore content.
func TestIncrementalEqualsFromScratch(t *testing.T) {
	events := 10_000
	if testing.Short() {
		events = 1000
	}
	runProperty(t, 42, events, 1)
}

// TestIncrementalBatches does the same with random batches of up to 8 events, so
// coalescing within a batch is exercised.
func TestIncrementalBatches(t *testing.T) {
	runProperty(t, 7, 3000, 8)
}

func runProperty(t *testing.T, seed uint64, events, maxBatch int) {
	g := gen{rand.New(rand.NewPCG(seed, seed))}
	graph := New(zap.NewNop(), testNode)
	st := desired.New()
	w := world{}
	var history []string
	for done := 0; done < events; {
		n := 1 + g.r.IntN(maxBatch)
		var batch []datastore.Update
		for range n {
			u := fixKind(g.event())
			applyToWorld(w, u)
			batch = append(batch, u)
			history = append(history, fmt.Sprintf("%s set=%v", u.Key, u.Object != nil))
		}
		done += n
		if err := st.ApplyAll(graph.Apply(batch)); err != nil {
			t.Fatalf("after %d events (last %v): graph output breaks the ordering contract: %v", done, tail(history), err)
		}
		want := referenceState(testNode, w)
		if !statesEqual(want, st) {
			t.Fatalf("after %d events (last %v): incremental state differs from reference (-reference +incremental):\n%s",
				done, tail(history), diffStates(want, st))
		}
	}
	t.Logf("%d events; final state: %d endpoints, %d policies, %d sets; %d invalid objects",
		events, len(st.Endpoints), len(st.Policies), len(st.Sets), len(graph.Status().Invalid))
}

func tail(h []string) []string {
	if len(h) > 5 {
		return h[len(h)-5:]
	}
	return h
}
