package policy

import (
	"errors"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/google/go-cmp/cmp"
)

func TestEndpointLabels(t *testing.T) {
	got := EndpointLabels(EndpointIdentity{
		Namespace:            "prod",
		Labels:               map[string]string{"app": "db", LabelNamespace: "spoofed"},
		NamespaceLabels:      map[string]string{"team": "a"},
		ServiceAccount:       "db-sa",
		ServiceAccountLabels: map[string]string{"role": "storage"},
	})
	want := map[string]string{
		"app":                              "db",
		"projectcalico.org/namespace":      "prod",
		"projectcalico.org/orchestrator":   "k8s",
		"projectcalico.org/serviceaccount": "db-sa",
		"pcns.team":                        "a",
		"pcns.projectcalico.org/name":      "prod",
		"pcsa.role":                        "storage",
		"pcsa.projectcalico.org/name":      "db-sa",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("EndpointLabels (-want +got):\n%s", diff)
	}
	// Without a service account there are no service-account labels.
	got = EndpointLabels(EndpointIdentity{Namespace: "n", ServiceAccountLabels: map[string]string{"x": "y"}})
	want = map[string]string{
		"projectcalico.org/namespace":    "n",
		"projectcalico.org/orchestrator": "k8s",
		"pcns.projectcalico.org/name":    "n",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("EndpointLabels without SA (-want +got):\n%s", diff)
	}
}

func TestNetworkSetLabels(t *testing.T) {
	ns := &NetworkSet{Name: "s", Namespace: "prod", Labels: map[string]string{"kind": "ext"}}
	want := map[string]string{"kind": "ext", "projectcalico.org/namespace": "prod", "pcns.team": "a", "pcns.projectcalico.org/name": "prod"}
	if diff := cmp.Diff(want, NetworkSetLabels(ns, map[string]string{"team": "a"})); diff != "" {
		t.Errorf("NetworkSetLabels namespaced (-want +got):\n%s", diff)
	}
	gs := &NetworkSet{Name: "g", Labels: map[string]string{"kind": "ext"}}
	if diff := cmp.Diff(map[string]string{"kind": "ext"}, NetworkSetLabels(gs, map[string]string{"team": "a"})); diff != "" {
		t.Errorf("NetworkSetLabels global (-want +got):\n%s", diff)
	}
}

func TestSortTiersAndPolicies(t *testing.T) {
	tiers := []Tier{{Name: "z", Order: nil}, {Name: "b", Order: order(100)}, {Name: "a", Order: order(100)}, {Name: "first", Order: order(1)}, DefaultTier()}
	SortTiers(tiers)
	var names []string
	for _, tr := range tiers {
		names = append(names, tr.Name)
	}
	if diff := cmp.Diff([]string{"first", "a", "b", "default", "z"}, names); diff != "" {
		t.Errorf("SortTiers (-want +got):\n%s", diff)
	}

	ps := []*Policy{
		{Tier: "default", Name: "nil-order"},
		{Tier: "default", Name: "b", Namespace: "x", Order: order(5)},
		{Tier: "default", Name: "a", Namespace: "y", Order: order(5)},
		{Tier: "default", Name: "a", Namespace: "x", Order: order(5)},
		{Tier: "default", Name: "neg", Order: order(-1)},
		{Tier: "sec", Name: "late", Order: order(1000)},
		{Tier: "unknown", Name: "u", Order: order(0)},
		{Tier: "default", Name: "global-a", Order: order(5)},
	}
	SortPolicies(ps, []Tier{DefaultTier(), {Name: "sec", Order: order(10)}})
	names = nil
	for _, p := range ps {
		names = append(names, p.Tier+":"+p.Key())
	}
	want := []string{"sec:late", "default:neg", "default:global-a", "default:x/a", "default:x/b", "default:y/a", "default:nil-order", "unknown:u"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("SortPolicies (-want +got):\n%s", diff)
	}
}

func TestPrefixKeys(t *testing.T) {
	tests := []struct{ in, want string }{
		{`a == "b"`, `p.a == "b"`},
		{`has(a) && !has(b/c)`, `has(p.a) && !has(p.b/c)`},
		{`a in {"x", "y"} || b not in {"z"}`, `p.a in {"x", "y"} || p.b not in {"z"}`},
		{`a contains "in" && b starts with "has(" && c ends with 'x"y'`, `p.a contains "in" && p.b starts with "has(" && p.c ends with 'x"y'`},
		{`!(a != "1" || all())`, `!(p.a != "1" || all())`},
	}
	for _, tc := range tests {
		canon := sel(tc.in).String()
		got, global := prefixKeys(canon, "p.")
		if got != sel(tc.want).String() || global {
			t.Errorf("prefixKeys(%q) = %q, %v; want %q, false", canon, got, global, tc.want)
		}
	}
	if _, global := prefixKeys(sel(`global() || a == "b"`).String(), "p."); !global {
		t.Error("prefixKeys did not report global()")
	}
}

func TestParsePort(t *testing.T) {
	tests := []struct {
		in      string
		want    Port
		wantErr string
	}{
		{"80", port(80), ""},
		{"1:65535", Port{First: 1, Last: 65535}, ""},
		{"8080:8080", port(8080), ""},
		{"http-alt", Port{Name: "http-alt"}, ""},
		{"", Port{}, "empty port"},
		{"65536", Port{}, "port 65536 out of range"},
		{"0", Port{}, "port 0 out of range"},
		{"99999999999999999999", Port{}, "port 99999999999999999999 out of range"},
		{"5:4", Port{}, `port range "5:4": first port is above last`},
		{"a:b", Port{}, `invalid port range "a:b" (want first:last)`},
		{"toolongportname1", Port{}, `invalid port name "toolongportname1": must be no more than 15 characters`},
		{"-x", Port{}, `invalid port name "-x": must not begin or end with a hyphen`},
	}
	for _, tc := range tests {
		got, err := ParsePort(tc.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tc.want || gotErr != tc.wantErr {
			t.Errorf("ParsePort(%q) = %v, %q; want %v, %q", tc.in, got, gotErr, tc.want, tc.wantErr)
		}
		if err == nil && got.String() != tc.in && tc.in != "8080:8080" {
			t.Errorf("ParsePort(%q).String() = %q", tc.in, got.String())
		}
	}
}

func TestParseProtocol(t *testing.T) {
	for in, want := range map[string]Protocol{"TCP": 6, "udp": 17, "ICMPv6": 58, "sctp": 132, "UDPLite": 136, "icmp": 1, "47": 47} {
		got, err := ParseProtocol(in)
		if err != nil || got != want {
			t.Errorf("ParseProtocol(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"GRE", "0", "256", ""} {
		if _, err := ParseProtocol(in); err == nil {
			t.Errorf("ParseProtocol(%q) succeeded", in)
		}
	}
	if ProtocolTCP.String() != "TCP" || Protocol(47).String() != "47" {
		t.Errorf("Protocol.String: %s %s", ProtocolTCP, Protocol(47))
	}
}

func TestValidationErrorUnwrap(t *testing.T) {
	_, err := FromKubernetes(knp(ingressPorts(networkingv1.NetworkPolicyPort{Port: intPort(70000)})))
	var fe FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("errors.As(%v, FieldError) failed", err)
	}
	if fe.Path.String() != "spec.ingress[0].ports[0].port" || fe.Detail != "port 70000 out of range" {
		t.Errorf("FieldError = %q, %q", fe.Path, fe.Detail)
	}
}

func TestLabelValueWithBothQuotes(t *testing.T) {
	_, err := FromKubernetes(knp(networkingv1.NetworkPolicySpec{PodSelector: *ls("a", `x'y"z`)}))
	want := `spec.podSelector.matchLabels[a]: value "x'y\"z" holds both quote characters and cannot be written in a selector`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
	p, err := FromKubernetes(knp(networkingv1.NetworkPolicySpec{PodSelector: *ls("a", `x"y`)}))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Endpoints.Evaluate(EndpointLabels(EndpointIdentity{Namespace: "x", Labels: map[string]string{"a": `x"y`}})) {
		t.Errorf("selector %s does not match its own label value", p.Endpoints)
	}
}
