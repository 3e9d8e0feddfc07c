package calc

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/calc/desired"
	"github.com/palisadenet/palisade/dataplane"
	"go.uber.org/zap/zaptest"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// kinds renders updates as their kind and ID, in order.
func kinds(ups []dataplane.Update) []string {
	var out []string
	for _, u := range ups {
		switch {
		case u.SetUpdate != nil:
			out = append(out, "set "+u.SetUpdate.ID)
		case u.SetDeltaUpdate != nil:
			out = append(out, "delta "+u.SetDeltaUpdate.ID)
		case u.SetRemove != "":
			out = append(out, "-set "+u.SetRemove)
		case u.PolicyUpdate != nil:
			out = append(out, "policy "+u.PolicyUpdate.ID.String())
		case u.PolicyRemove != nil:
			out = append(out, "-policy "+u.PolicyRemove.String())
		case u.ProfileUpdate != nil:
			out = append(out, "profile "+u.ProfileUpdate.ID)
		case u.ProfileRemove != "":
			out = append(out, "-profile "+u.ProfileRemove)
		case u.EndpointUpdate != nil:
			out = append(out, "endpoint "+u.EndpointUpdate.Key)
		case u.EndpointRemove != "":
			out = append(out, "-endpoint "+u.EndpointRemove)
		case u.ConfigUpdate != nil:
			out = append(out, "config")
		}
	}
	return out
}

func baseGraph(t *testing.T) (*Graph, *desired.State, world) {
	t.Helper()
	w := decodeWorld(t, "base", baseObjects+k8sPolicy+v3Policies)
	g := New(zaptest.NewLogger(t), testNode)
	st := desired.New()
	applyOrFail(t, st, g.Apply(transition(world{}, w)))
	return g, st, w
}

func TestAddThenDeleteInOneBatchEmitsNothing(t *testing.T) {
	g, _, _ := baseGraph(t)
	extra := decodeWorld(t, "extra", `
apiVersion: v1
kind: Pod
metadata: {name: new, namespace: a, labels: {app: db}}
spec: {nodeName: node1, containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.9}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: extra}
spec:
  selector: all()
  ingress: [{action: Allow, source: {selector: brand-new == 'x'}}]
`)
	var batch []datastore.Update
	for k, o := range extra {
		batch = append(batch, datastore.Update{Key: k, Object: o})
	}
	for k := range extra {
		batch = append(batch, datastore.Update{Key: k})
	}
	if got := g.Apply(batch); len(got) != 0 {
		t.Errorf("add then delete in one batch emitted %v, want nothing", kinds(got))
	}
}

func TestNoOpUpdateEmitsNothing(t *testing.T) {
	g, _, w := baseGraph(t)
	var batch []datastore.Update
	for k, o := range w {
		batch = append(batch, datastore.Update{Key: k, Object: o.DeepCopyObject()})
	}
	if got := g.Apply(batch); len(got) != 0 {
		t.Errorf("re-sending identical objects emitted %v, want nothing", kinds(got))
	}
}

// TestRemoteLabelChangeTouchesOnlyItsSets: a remote pod leaving one selector and
// joining another gives exactly two set deltas and nothing else.
func TestRemoteLabelChangeTouchesOnlyItsSets(t *testing.T) {
	g, st, w := baseGraph(t)
	names := setNames(w)
	w2 := decodeWorld(t, "relabel", strings.Replace(baseObjects+k8sPolicy+v3Policies,
		"{name: client, namespace: b, labels: {app: client}}", "{name: client, namespace: b, labels: {app: client, role: ext}}", 1))
	ups := g.Apply(transition(w, w2))
	applyOrFail(t, st, ups)
	var got []string
	for _, u := range ups {
		if u.SetDeltaUpdate == nil {
			t.Errorf("unexpected update %v", kinds([]dataplane.Update{u}))
			continue
		}
		got = append(got, names[u.SetDeltaUpdate.ID])
	}
	if diff := cmp.Diff([]string{`sel(role == "ext")`}, got); diff != "" {
		t.Errorf("deltas (-want +got):\n%s", diff)
	}
}

// TestSafeOrder: removing a policy together with the sets only it used removes
// the endpoint reference first, then the policy, then the sets.
func TestSafeOrder(t *testing.T) {
	g, st, w := baseGraph(t)
	w2 := decodeWorld(t, "fewer", baseObjects+v3Policies)
	ups := g.Apply(transition(w, w2))
	applyOrFail(t, st, ups)
	want := []string{
		"endpoint a/db",
		"-policy default/a/knp.default.db-allow",
	}
	got := kinds(ups)
	if diff := cmp.Diff(want, got[:2]); diff != "" {
		t.Errorf("first updates (-want +got):\n%s", diff)
	}
	if len(got) != 4 || !strings.HasPrefix(got[2], "-set ") || !strings.HasPrefix(got[3], "-set ") {
		t.Errorf("updates = %v, want the two sets removed last", got)
	}
}

func TestInvalidPoliciesFailClosedAndAreReported(t *testing.T) {
	g, st, _ := baseGraph(t)
	order := 1.0
	badK8s := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: "a"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{
				{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/33"}}}}}}}
	badGlobal := &v3.GlobalNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "bad-global"},
		Spec: v3.GlobalNetworkPolicySpec{Order: &order, Selector: "all()", Types: []v3.PolicyType{"Ingress"},
			Ingress: []v3.Rule{{Action: "Teleport"}}}}
	var batch []datastore.Update
	for _, o := range []runtime.Object{badK8s, badGlobal} {
		u, err := datastore.UpdateOf(o)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, u)
	}
	applyOrFail(t, st, g.Apply(batch))

	// Reported with object and field.
	var report []string
	for _, inv := range g.Status().Invalid {
		report = append(report, inv.Key.String()+": "+strings.Join(inv.Problems, "; "))
	}
	want := []string{
		`GlobalNetworkPolicy bad-global: spec.ingress[0].action: `,
		`networking.k8s.io/NetworkPolicy a/bad: spec.egress[0].to[0].ipBlock.cidr: `,
	}
	if len(report) != len(want) {
		t.Fatalf("Status().Invalid = %q, want entries starting %q", report, want)
	}
	for i := range want {
		if !strings.HasPrefix(report[i], want[i]) {
			t.Errorf("Status().Invalid[%d] = %q, want prefix %q", i, report[i], want[i])
		}
	}

	// The global one denies ingress to every local endpoint first (order 1, in
	// the default tier); the Kubernetes one (its conversion gives nothing, so it
	// covers its whole namespace) denies egress in namespace a.
	for _, key := range []string{"a/web", "a/db"} {
		ep := st.Endpoints[key]
		def := ep.Tiers[len(ep.Tiers)-1]
		if def.Name != "default" || len(def.IngressPolicies) == 0 || def.IngressPolicies[0].Name != "bad-global" {
			t.Errorf("%s: default tier %+v, want bad-global first in ingress", key, def)
		}
	}
	deny := st.Policies[dataplane.PolicyID{Tier: "default", Name: "bad-global"}]
	if len(deny.Inbound) != 1 || deny.Inbound[0].Action != dataplane.ActionDeny || !deny.Inbound[0].Source.IsEmpty() ||
		!deny.Inbound[0].Destination.IsEmpty() || len(deny.Outbound) != 0 {
		t.Errorf("fail-closed policy = %+v, want one unconditional Deny inbound", deny)
	}
	web := st.Endpoints["a/web"]
	if !slices.ContainsFunc(web.Tiers, func(tp dataplane.TierPolicies) bool {
		return slices.Contains(tp.EgressPolicies, dataplane.PolicyID{Tier: "default", Name: "a/knp.default.bad"})
	}) {
		t.Errorf("a/web tiers %+v: want the broken Kubernetes policy's deny in egress", web.Tiers)
	}
	if diff := diffStates(referenceState(testNode, mergeWorld(t, batch)), st); diff != "" {
		t.Errorf("differs from reference (-reference +graph):\n%s", diff)
	}

	// Fixing the policy clears the report.
	badGlobal.Spec.Ingress[0].Action = v3.Allow
	u, _ := datastore.UpdateOf(badGlobal)
	applyOrFail(t, st, g.Apply([]datastore.Update{u}))
	if inv := g.Status().Invalid; len(inv) != 1 || inv[0].Key.Name != "bad" {
		t.Errorf("after fixing bad-global, Status().Invalid = %+v, want only a/bad", inv)
	}
}

func mergeWorld(t *testing.T, extra []datastore.Update) world {
	w := decodeWorld(t, "base", baseObjects+k8sPolicy+v3Policies)
	for _, u := range extra {
		applyToWorld(w, u)
	}
	return w
}

func TestFelixConfiguration(t *testing.T) {
	g := New(zaptest.NewLogger(t), testNode)
	st := desired.New()
	set := func(name, action string) {
		fc := &v3.FelixConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
		fc.Spec.DefaultEndpointToHostAction = action
		u, _ := datastore.UpdateOf(fc)
		applyOrFail(t, st, g.Apply([]datastore.Update{u}))
	}
	for _, step := range []struct {
		name, action string
		want         dataplane.Action
	}{
		{"default", "Drop", dataplane.ActionDeny},
		{"node.other", "Return", dataplane.ActionDeny}, // another node's override
		{"node." + testNode, "Return", dataplane.ActionPass},
		{"node." + testNode, "Accept", dataplane.ActionAllow},
	} {
		set(step.name, step.action)
		if st.Config == nil || st.Config.EndpointToHostAction != step.want {
			t.Errorf("after %s=%s: config %+v, want EndpointToHostAction %v", step.name, step.action, st.Config, step.want)
		}
	}
}
