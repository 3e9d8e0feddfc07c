package calc

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/calc/desired"
	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/policy"
	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func hostEndpointWith(profiles ...string) *v3.HostEndpoint {
	h := &v3.HostEndpoint{ObjectMeta: metav1.ObjectMeta{Name: "node1-eth1", Labels: map[string]string{"role": "edge"}}}
	h.Spec.Node, h.Spec.InterfaceName, h.Spec.ExpectedIPs, h.Spec.Profiles = testNode, "eth1", []string{"192.168.0.1"}, profiles
	return h
}

func update(t *testing.T, o runtime.Object) datastore.Update {
	t.Helper()
	u, err := datastore.UpdateOf(o)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestHostEndpointProfiles: a host endpoint's spec.profiles reach the dataplane in
// order, each resolved as Calico resolves it (default-allow and namespace profiles
// allow, a service-account profile has no rules while its ServiceAccount exists and
// denies while it does not, an unknown name denies and is reported), and a profile
// shared with pods stays while either uses it.
func TestHostEndpointProfiles(t *testing.T) {
	g := New(zaptest.NewLogger(t), testNode)
	st := desired.New()
	step := func(name string, wantProfiles []string, wantRules map[string][]dataplane.Action, objs ...datastore.Update) {
		t.Helper()
		applyOrFail(t, st, g.Apply(objs))
		ep, ok := st.Endpoints["node1-eth1"]
		if !ok {
			t.Fatalf("%s: no host endpoint in %v", name, st.Endpoints)
		}
		if !slices.Equal(ep.ProfileIDs, wantProfiles) {
			t.Errorf("%s: endpoint profiles %q, want %q", name, ep.ProfileIDs, wantProfiles)
		}
		got := map[string][]dataplane.Action{}
		for id, p := range st.Profiles {
			for _, rules := range [][]dataplane.Rule{p.Inbound, p.Outbound} {
				var acts []dataplane.Action
				for _, r := range rules {
					acts = append(acts, r.Action)
				}
				got[id] = append(got[id], acts...)
			}
		}
		if diff := cmp.Diff(wantRules, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: profiles' actions (inbound then outbound) (-want +got):\n%s", name, diff)
		}
	}
	allow := []dataplane.Action{dataplane.ActionAllow, dataplane.ActionAllow}
	deny := []dataplane.Action{dataplane.ActionDeny, dataplane.ActionDeny}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "ops"}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ops"},
		Spec: corev1.PodSpec{NodeName: testNode}, Status: corev1.PodStatus{PodIP: "10.0.0.1"}}

	step("no profiles", nil, nil, update(t, hostEndpointWith()))
	step("default allow", []string{DefaultAllowProfile}, map[string][]dataplane.Action{DefaultAllowProfile: allow},
		update(t, hostEndpointWith(DefaultAllowProfile)))
	step("missing service account, then default allow", []string{"ksa.ops.agent", DefaultAllowProfile},
		map[string][]dataplane.Action{"ksa.ops.agent": deny, DefaultAllowProfile: allow},
		update(t, hostEndpointWith("ksa.ops.agent", DefaultAllowProfile)))
	step("service account appears", []string{"ksa.ops.agent", DefaultAllowProfile},
		map[string][]dataplane.Action{"ksa.ops.agent": nil, DefaultAllowProfile: allow}, update(t, sa))
	step("service account goes", []string{"ksa.ops.agent", DefaultAllowProfile},
		map[string][]dataplane.Action{"ksa.ops.agent": deny, DefaultAllowProfile: allow},
		datastore.Update{Key: datastore.Key{Kind: datastore.KindServiceAccount, Namespace: "ops", Name: "agent"}})

	step("namespace profile shared with a pod", []string{"kns.ops"}, map[string][]dataplane.Action{"kns.ops": allow},
		update(t, hostEndpointWith("kns.ops")), update(t, pod))
	step("pod goes, host endpoint keeps the profile", []string{"kns.ops"}, map[string][]dataplane.Action{"kns.ops": allow},
		datastore.Update{Key: datastore.Key{Kind: datastore.KindPod, Namespace: "ops", Name: "p"}})

	if inv := g.Status().Invalid; len(inv) != 0 {
		t.Errorf("known profiles reported invalid: %+v", inv)
	}
	step("unknown profile", []string{"my-profile"}, map[string][]dataplane.Action{"my-profile": deny},
		update(t, hostEndpointWith("my-profile")))
	inv := g.Status().Invalid
	if len(inv) != 1 || inv[0].Key.Name != "node1-eth1" || !strings.Contains(strings.Join(inv[0].Problems, "\n"), `spec.profiles[0]: profile "my-profile" is not known`) {
		t.Errorf("unknown profile not reported on the host endpoint: %+v", inv)
	}

	applyOrFail(t, st, g.Apply([]datastore.Update{{Key: datastore.Key{Kind: datastore.KindHostEndpoint, Name: "node1-eth1"}}}))
	if len(st.Profiles) != 0 || len(st.Endpoints) != 0 {
		t.Errorf("after deleting the host endpoint: profiles %v, endpoints %v; want none", st.Profiles, st.Endpoints)
	}
}

// TestFailsafeConfig: failsafe ports come from FelixConfiguration, setting by
// setting (the node's over the cluster's); unset means nil (the backend's Felix
// defaults), an empty list means none, and bad entries are left out and reported.
func TestFailsafeConfig(t *testing.T) {
	g := New(zaptest.NewLogger(t), testNode)
	st := desired.New()
	fc := func(name string, in, out []v3.ProtoPort, action string) datastore.Update {
		c := &v3.FelixConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
		c.Spec.FailsafeInboundHostPorts, c.Spec.FailsafeOutboundHostPorts, c.Spec.DefaultEndpointToHostAction = in, out, action
		return update(t, c)
	}
	ssh := []dataplane.FailsafePort{{Protocol: 6, Port: 22}}
	for _, s := range []struct {
		name string
		u    datastore.Update
		want dataplane.Config
	}{
		{"cluster sets inbound", fc("default", []v3.ProtoPort{{Port: 22}}, nil, ""),
			dataplane.Config{EndpointToHostAction: dataplane.ActionAllow, FailsafeInbound: ssh}},
		{"node sets only the action: inbound stays the cluster's", fc("node."+testNode, nil, nil, "Drop"),
			dataplane.Config{EndpointToHostAction: dataplane.ActionDeny, FailsafeInbound: ssh}},
		{"node empties outbound", fc("node."+testNode, nil, []v3.ProtoPort{}, "Drop"),
			dataplane.Config{EndpointToHostAction: dataplane.ActionDeny, FailsafeInbound: ssh, FailsafeOutbound: []dataplane.FailsafePort{}}},
		{"another node's settings do not apply", fc("node.node2", []v3.ProtoPort{{Port: 1}}, nil, "Return"),
			dataplane.Config{EndpointToHostAction: dataplane.ActionDeny, FailsafeInbound: ssh, FailsafeOutbound: []dataplane.FailsafePort{}}},
		{"protocols, nets, and bad entries", fc("node."+testNode, []v3.ProtoPort{
			{Protocol: "UDP", Port: 53, Net: "10.0.0.0/8"}, {Protocol: "sctp", Port: 3868, Net: "fd00::1"},
			{Protocol: "ICMP", Port: 1}, {Port: 2, Net: "nope"}}, nil, ""),
			dataplane.Config{EndpointToHostAction: dataplane.ActionAllow, FailsafeInbound: []dataplane.FailsafePort{
				{Protocol: 17, Port: 53, Net: netip.MustParsePrefix("10.0.0.0/8")},
				{Protocol: 132, Port: 3868, Net: netip.MustParsePrefix("fd00::1/128")}}}},
		{"node config deleted", datastore.Update{Key: datastore.Key{Kind: datastore.KindFelixConfiguration, Name: "node." + testNode}},
			dataplane.Config{EndpointToHostAction: dataplane.ActionAllow, FailsafeInbound: ssh}},
		{"cluster config deleted: defaults (nil lists)", datastore.Update{Key: datastore.Key{Kind: datastore.KindFelixConfiguration, Name: "default"}},
			dataplane.Config{EndpointToHostAction: dataplane.ActionAllow}},
	} {
		applyOrFail(t, st, g.Apply([]datastore.Update{s.u}))
		// No EquateEmpty: nil (defaults) and empty (none) must differ.
		if diff := cmp.Diff(&s.want, st.Config, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
			t.Errorf("%s: config (-want +got):\n%s", s.name, diff)
		}
		var problems []string
		for _, inv := range g.Status().Invalid {
			problems = append(problems, inv.Problems...)
		}
		wantProblems := strings.HasPrefix(s.name, "protocols")
		if got := len(problems) == 2; got != wantProblems || (wantProblems && !strings.Contains(problems[0], "spec.failsafeInboundHostPorts[2].protocol")) {
			t.Errorf("%s: problems %q, want the two bad entries reported: %v", s.name, problems, wantProblems)
		}
	}
}

// TestServiceAccountLabelsSelectPods: Calico gives each service account a profile
// (ksa.<ns>.<sa>) whose labels pods inherit as pcsa.*; the graph synthesizes those
// labels, so a policy selecting pcsa.* labels (directly, or through
// serviceAccountSelector / serviceAccounts) picks the pod, and follows the service
// account's label changes.
func TestServiceAccountLabelsSelectPods(t *testing.T) {
	g := New(zaptest.NewLogger(t), testNode)
	st := desired.New()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "ops", Labels: map[string]string{"tier": "gold"}}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ops"},
		Spec: corev1.PodSpec{NodeName: testNode, ServiceAccountName: "agent"}, Status: corev1.PodStatus{PodIP: "10.0.0.7"}}
	byLabel := &v3.GlobalNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "by-pcsa-label"}}
	byLabel.Spec.Selector = "pcsa.tier == 'gold'"
	byLabel.Spec.Ingress = []v3.Rule{{Action: v3.Allow, Source: v3.EntityRule{ServiceAccounts: &v3.ServiceAccountMatch{Selector: "tier == 'gold'"}}}}
	bySASelector := &v3.GlobalNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "by-sa-selector"}}
	bySASelector.Spec.ServiceAccountSelector = "tier == 'gold'"
	bySASelector.Spec.Egress = []v3.Rule{{Action: v3.Allow}}
	applyOrFail(t, st, g.Apply([]datastore.Update{update(t, sa), update(t, pod), update(t, byLabel), update(t, bySASelector)}))

	policiesOf := func() []string {
		var out []string
		for _, tier := range st.Endpoints["ops/p"].Tiers {
			for _, id := range slices.Concat(tier.IngressPolicies, tier.EgressPolicies) {
				out = append(out, id.Name)
			}
		}
		slices.Sort(out)
		return out
	}
	if got, want := policiesOf(), []string{"by-pcsa-label", "by-sa-selector"}; !slices.Equal(got, want) {
		t.Errorf("policies selecting the gold service account's pod: %q, want %q", got, want)
	}
	p, err := policy.FromGlobalNetworkPolicy(byLabel)
	if err != nil {
		t.Fatal(err)
	}
	setID := p.Ingress[0].Source.Peer.ID()
	if got := st.Sets[setID].Members; len(got) != 1 || got[0].Prefix != netip.MustParsePrefix("10.0.0.7/32") {
		t.Errorf("serviceAccounts peer set %s = %v, want the pod 10.0.0.7/32", setID, got)
	}

	sa.Labels = map[string]string{"tier": "silver"}
	applyOrFail(t, st, g.Apply([]datastore.Update{update(t, sa)}))
	if got := policiesOf(); len(got) != 0 {
		t.Errorf("after the service account became silver, policies %q still select its pod", got)
	}
	if s, ok := st.Sets[setID]; ok {
		t.Errorf("after the service account became silver, set %s is still programmed: %v", setID, s.Members)
	}
}
