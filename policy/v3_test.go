package policy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/policy/selector"
	"sigs.k8s.io/yaml"
)

// convertYAML decodes one v3 NetworkPolicy (namespace "x", name "p") or, when the
// text starts with "global\n", GlobalNetworkPolicy "p", from a spec in YAML.
func convertYAML(t *testing.T, spec string) (*Policy, error) {
	t.Helper()
	if rest, ok := strings.CutPrefix(spec, "global\n"); ok {
		var gnp v3.GlobalNetworkPolicy
		if err := yaml.UnmarshalStrict([]byte(rest), &gnp.Spec); err != nil {
			t.Fatalf("decoding test YAML: %v", err)
		}
		gnp.Name = "p"
		return FromGlobalNetworkPolicy(&gnp)
	}
	var np v3.NetworkPolicy
	if err := yaml.UnmarshalStrict([]byte(spec), &np.Spec); err != nil {
		t.Fatalf("decoding test YAML: %v", err)
	}
	np.Name, np.Namespace = "p", "x"
	return FromNetworkPolicy(&np)
}

func TestFromV3Policy(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want func(p *Policy) // edits the default conversion result
	}{{
		name: "defaults: tier default, nil order, all() in the namespace, Ingress",
		spec: `{}`,
		want: func(p *Policy) {},
	}, {
		name: "tier, order, selector",
		spec: "tier: security\norder: 10.5\nselector: role == 'db'\n",
		want: func(p *Policy) {
			p.Tier, p.Order, p.Selector = "security", order(10.5), "role == 'db'"
			p.Endpoints = sel(`role == "db" && ` + inNS)
		},
	}, {
		name: "serviceAccountSelector narrows the endpoints",
		spec: "serviceAccountSelector: role == 'api'\n",
		want: func(p *Policy) {
			p.ServiceAccountSelector = "role == 'api'"
			p.Endpoints = sel(inNS + ` && has(projectcalico.org/serviceaccount) && pcsa.role == "api"`)
		},
	}, {
		name: "types default to Egress when only egress rules exist",
		spec: "egress:\n- action: Allow\n",
		want: func(p *Policy) {
			p.Types = []Direction{Egress}
			p.Egress = []Rule{{Action: Allow, Origin: "spec.egress[0]"}}
		},
	}, {
		name: "types default to both with both rule lists",
		spec: "ingress:\n- action: Deny\negress:\n- action: Allow\n",
		want: func(p *Policy) {
			p.Types = []Direction{Ingress, Egress}
			p.Ingress = []Rule{{Action: Deny, Origin: "spec.ingress[0]"}}
			p.Egress = []Rule{{Action: Allow, Origin: "spec.egress[0]"}}
		},
	}, {
		name: "explicit types without rules",
		spec: "types: [Egress, Ingress]\n",
		want: func(p *Policy) { p.Types = []Direction{Ingress, Egress} },
	}, {
		name: "every rule field",
		spec: `
ingress:
- action: Log
  ipVersion: 4
  protocol: TCP
  notProtocol: 17
  metadata:
    annotations: {from: frontend}
  source:
    selector: role == 'fe'
    notSelector: canary == 'true'
    nets: [10.0.0.0/8, 10.1.2.3]
    notNets: [10.9.0.0/16]
    ports: [1024:65535]
    notPorts: [2000]
  destination:
    ports: [80, "443", http]
    notPorts: ["8080:8090"]
`,
		want: func(p *Policy) {
			p.Ingress = []Rule{{
				Action: Log, IPVersion: 4, Protocol: proto(ProtocolTCP), NotProtocol: proto(ProtocolUDP),
				Annotations: map[string]string{"from": "frontend"}, Origin: "spec.ingress[0]",
				Source: EntityRule{
					Selector: "role == 'fe'", NotSelector: "canary == 'true'",
					Peer: sel(`role == "fe" && ` + inNS), NotPeer: sel(`canary == "true"`),
					Nets: nets("10.0.0.0/8", "10.1.2.3/32"), NotNets: nets("10.9.0.0/16"),
					Ports: []Port{{First: 1024, Last: 65535}}, NotPorts: []Port{port(2000)},
				},
				Destination: EntityRule{
					Ports:    []Port{port(80), port(443), {Name: "http"}},
					NotPorts: []Port{{First: 8080, Last: 8090}},
				},
			}}
		},
	}, {
		name: "ICMP and notICMP",
		spec: `
ingress:
- action: Allow
  protocol: ICMP
  icmp: {type: 8, code: 0}
- action: Deny
  protocol: ICMPv6
  notICMP: {type: 128}
`,
		want: func(p *Policy) {
			p.Ingress = []Rule{
				{Action: Allow, Protocol: proto(ProtocolICMP), ICMP: &ICMPMatch{Type: 8, Code: u8(0)}, Origin: "spec.ingress[0]"},
				{Action: Deny, Protocol: proto(ProtocolICMPv6), NotICMP: &ICMPMatch{Type: 128}, Origin: "spec.ingress[1]"},
			}
		},
	}, {
		name: "rule namespaceSelector leaves the policy's namespace",
		spec: "ingress:\n- action: Allow\n  source:\n    selector: app == 'a'\n    namespaceSelector: team == 'blue'\n",
		want: func(p *Policy) {
			p.Ingress = []Rule{{Action: Allow, Origin: "spec.ingress[0]", Source: EntityRule{
				Selector: "app == 'a'", NamespaceSelector: "team == 'blue'",
				Peer: sel(`app == "a" && has(projectcalico.org/namespace) && pcns.team == "blue"`)}}}
		},
	}, {
		name: "namespaceSelector global() matches non-namespaced resources",
		spec: "egress:\n- action: Allow\n  destination:\n    selector: type == 'ext'\n    namespaceSelector: global()\n",
		want: func(p *Policy) {
			p.Types = []Direction{Egress}
			p.Egress = []Rule{{Action: Allow, Origin: "spec.egress[0]", Destination: EntityRule{
				Selector: "type == 'ext'", NamespaceSelector: "global()",
				Peer: sel(`type == "ext" && !has(projectcalico.org/namespace)`)}}}
		},
	}, {
		name: "serviceAccounts names and selector, scoped to the namespace",
		spec: "ingress:\n- action: Allow\n  source:\n    serviceAccounts:\n      names: [web, api, web]\n      selector: team == 'a'\n",
		want: func(p *Policy) {
			p.Ingress = []Rule{{Action: Allow, Origin: "spec.ingress[0]", Source: EntityRule{
				ServiceAccounts: &ServiceAccountMatch{Names: []string{"web", "api", "web"}, Selector: "team == 'a'"},
				Peer:            sel(inNS + ` && projectcalico.org/serviceaccount in {"api", "web"} && has(projectcalico.org/serviceaccount) && pcsa.team == "a"`)}}}
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := &Policy{Kind: KindNetworkPolicy, Tier: "default", Name: "p", Namespace: "x",
				Endpoints: sel(inNS), Types: []Direction{Ingress}}
			tc.want(want)
			got, err := convertYAML(t, tc.spec)
			if err != nil {
				t.Fatalf("conversion: %v", err)
			}
			if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
				t.Errorf("policy mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFromGlobalNetworkPolicy(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want func(p *Policy)
	}{{
		name: "selector is cluster-wide",
		spec: "selector: role == 'db'\n",
		want: func(p *Policy) { p.Selector, p.Endpoints = "role == 'db'", sel(`role == "db"`) },
	}, {
		name: "namespaceSelector picks namespaces",
		spec: "selector: role == 'db'\nnamespaceSelector: env == 'prod'\n",
		want: func(p *Policy) {
			p.Selector, p.NamespaceSelector = "role == 'db'", "env == 'prod'"
			p.Endpoints = sel(`role == "db" && has(projectcalico.org/namespace) && pcns.env == "prod"`)
		},
	}, {
		name: "rule selectors are cluster-wide",
		spec: "ingress:\n- action: Allow\n  source:\n    selector: app == 'mon'\n",
		want: func(p *Policy) {
			p.Ingress = []Rule{{Action: Allow, Origin: "spec.ingress[0]", Source: EntityRule{
				Selector: "app == 'mon'", Peer: sel(`app == "mon"`)}}}
		},
	}, {
		name: "host endpoint options are kept",
		spec: "doNotTrack: true\napplyOnForward: true\n",
		want: func(p *Policy) { p.DoNotTrack, p.ApplyOnForward = true, true },
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := &Policy{Kind: KindGlobalNetworkPolicy, Tier: "default", Name: "p",
				Endpoints: sel("all()"), Types: []Direction{Ingress}}
			tc.want(want)
			got, err := convertYAML(t, "global\n"+tc.spec)
			if err != nil {
				t.Fatalf("conversion: %v", err)
			}
			if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
				t.Errorf("policy mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestV3ValidationErrors(t *testing.T) {
	tests := []struct {
		name, spec, want string
	}{
		{"port out of range", "ingress:\n- action: Allow\n  protocol: TCP\n  destination:\n    ports: [80, 70000]\n",
			"spec.ingress[0].destination.ports[1]: port 70000 out of range"},
		{"port zero", "ingress:\n- action: Allow\n  protocol: TCP\n  destination:\n    ports: [0]\n",
			"spec.ingress[0].destination.ports[0]: port 0 out of range"},
		{"range reversed", "ingress:\n- action: Allow\n  protocol: UDP\n  source:\n    ports: ['90:80']\n",
			`spec.ingress[0].source.ports[0]: port range "90:80": first port is above last`},
		{"range end out of range", "ingress:\n- action: Allow\n  protocol: UDP\n  source:\n    notPorts: ['90:99999']\n",
			"spec.ingress[0].source.notPorts[0]: port 99999 out of range"},
		{"malformed range", "ingress:\n- action: Allow\n  protocol: UDP\n  destination:\n    ports: ['1:2:3']\n",
			`spec.ingress[0].destination.ports[0]: invalid port range "1:2:3" (want first:last)`},
		{"bad port name", "ingress:\n- action: Allow\n  protocol: TCP\n  destination:\n    ports: [my--port]\n",
			`spec.ingress[0].destination.ports[0]: invalid port name "my--port": must not contain consecutive hyphens`},
		{"ports without protocol", "egress:\n- action: Allow\n  destination:\n    ports: [80]\n",
			"spec.egress[0].destination.ports: ports need protocol TCP, UDP, SCTP or UDPLite"},
		{"ports with ICMP", "egress:\n- action: Allow\n  protocol: ICMP\n  destination:\n    notPorts: [80]\n",
			"spec.egress[0].destination.notPorts: ports need protocol TCP, UDP, SCTP or UDPLite"},
		{"missing action", "ingress:\n- protocol: TCP\n", "spec.ingress[0].action: action is required"},
		{"unknown action", "ingress:\n- action: Accept\n",
			`spec.ingress[0].action: unknown action "Accept" (want Allow, Deny, Log or Pass)`},
		{"unknown protocol", "ingress:\n- action: Allow\n  protocol: GRE\n",
			`spec.ingress[0].protocol: unknown protocol "GRE" (want TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or 1-255)`},
		{"protocol number out of range", "ingress:\n- action: Allow\n  notProtocol: 256\n",
			"spec.ingress[0].notProtocol: protocol 256 out of range 1-255"},
		{"ipVersion", "ingress:\n- action: Allow\n  ipVersion: 5\n", "spec.ingress[0].ipVersion: ipVersion 5 is not 4 or 6"},
		{"net family vs ipVersion", "ingress:\n- action: Allow\n  ipVersion: 6\n  source:\n    nets: [10.0.0.0/8]\n",
			"spec.ingress[0].source.nets[0]: 10.0.0.0/8 does not match ipVersion 6"},
		{"bad CIDR", "egress:\n- action: Allow\n  destination:\n    notNets: [10.0.0.0/40]\n",
			`spec.egress[0].destination.notNets[0]: invalid CIDR "10.0.0.0/40"`},
		{"ICMP type range", "ingress:\n- action: Allow\n  protocol: ICMP\n  icmp: {type: 256}\n",
			"spec.ingress[0].icmp.type: ICMP type 256 out of range 0-254"},
		{"ICMP code range", "ingress:\n- action: Allow\n  protocol: ICMP\n  icmp: {type: 3, code: 300}\n",
			"spec.ingress[0].icmp.code: ICMP code 300 out of range 0-255"},
		{"ICMP code needs type", "ingress:\n- action: Allow\n  protocol: ICMP\n  notICMP: {code: 1}\n",
			"spec.ingress[0].notICMP.code: code needs a type"},
		{"ICMP with TCP", "ingress:\n- action: Allow\n  protocol: TCP\n  icmp: {type: 8}\n",
			"spec.ingress[0].icmp: icmp needs protocol ICMP or ICMPv6, not TCP"},
		{"bad policy selector", "selector: role == \n",
			"spec.selector: {parse:role ==}"},
		{"bad rule selector", "ingress:\n- action: Allow\n  source:\n    selector: has(a\n",
			"spec.ingress[0].source.selector: {parse:has(a}"},
		{"bad notSelector", "ingress:\n- action: Allow\n  source:\n    notSelector: a in 'b'\n",
			"spec.ingress[0].source.notSelector: {parse:a in 'b'}"},
		{"global() mixed in namespaceSelector", "ingress:\n- action: Allow\n  source:\n    namespaceSelector: global() || a == 'b'\n",
			"spec.ingress[0].source.namespaceSelector: global() cannot be combined with other terms in a namespaceSelector"},
		{"types missing Egress", "types: [Ingress]\negress:\n- action: Allow\n",
			"spec.types: egress rules are present but types does not list Egress"},
		{"types missing Ingress", "types: [Egress]\ningress:\n- action: Allow\n",
			"spec.types: ingress rules are present but types does not list Ingress"},
		{"duplicate type", "types: [Ingress, Ingress]\n", `spec.types[1]: duplicate type "Ingress"`},
		{"unknown type", "types: [Forward]\n", `spec.types[0]: unknown type "Forward" (want Ingress or Egress)`},
		{"services unsupported", "egress:\n- action: Allow\n  destination:\n    services: {name: kube-dns}\n",
			"spec.egress[0].destination.services: services matching is not supported"},
		{"GNP preDNAT with egress", "global\npreDNAT: true\ntypes: [Ingress, Egress]\negress:\n- action: Allow\n",
			"spec.egress: a preDNAT policy cannot have egress rules"},
		{"GNP bad namespaceSelector", "global\nnamespaceSelector: '!'\n",
			"spec.namespaceSelector: {parse:!}"},
		{"every error is listed", "ingress:\n- action: Nope\n  protocol: TCP\n  destination:\n    ports: [70000]\n",
			`spec.ingress[0].action: unknown action "Nope" (want Allow, Deny, Log or Pass); spec.ingress[0].destination.ports[0]: port 70000 out of range`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.want = withParseError(t, tc.want)
			_, err := convertYAML(t, tc.spec)
			if err == nil {
				t.Fatalf("conversion succeeded, want error %q", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n got %q\nwant %q", err.Error(), tc.want)
			}
		})
	}
}

func TestFromTierAndNetworkSets(t *testing.T) {
	pass := v3.Pass
	tier, err := FromTier(&v3.Tier{ObjectMeta: metaName("security"), Spec: v3.TierSpec{Order: order(100), DefaultAction: &pass}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Tier{Name: "security", Order: order(100), DefaultAction: Pass}, tier); diff != "" {
		t.Errorf("tier (-want +got):\n%s", diff)
	}
	tier, err = FromTier(&v3.Tier{ObjectMeta: metaName("t")})
	if err != nil || tier.DefaultAction != Deny {
		t.Errorf("FromTier default action = %q, %v; want Deny", tier.DefaultAction, err)
	}
	allow := v3.Allow
	if _, err := FromTier(&v3.Tier{ObjectMeta: metaName("t"), Spec: v3.TierSpec{DefaultAction: &allow}}); err == nil ||
		err.Error() != `spec.defaultAction: defaultAction "Allow" is not Deny or Pass` {
		t.Errorf("FromTier(Allow) error = %v", err)
	}

	ns := v3.NetworkSet{ObjectMeta: metaName("ext"), Spec: v3.NetworkSetSpec{Nets: []string{"1.2.3.4", "10.0.0.0/8"}}}
	ns.Namespace = "x"
	set, err := FromNetworkSet(&ns)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(NetworkSet{Name: "ext", Namespace: "x", Nets: nets("1.2.3.4/32", "10.0.0.0/8")}, set, cmpOpts...); diff != "" {
		t.Errorf("network set (-want +got):\n%s", diff)
	}
	_, err = FromGlobalNetworkSet(&v3.GlobalNetworkSet{ObjectMeta: metaName("g"), Spec: v3.GlobalNetworkSetSpec{Nets: []string{"bad"}}})
	if err == nil || err.Error() != `spec.nets[0]: invalid CIDR "bad"` {
		t.Errorf("FromGlobalNetworkSet(bad) error = %v", err)
	}
}

// withParseError replaces "{parse:EXPR}" in want with selector.Parse's error for
// EXPR, so the tests pin the field path and that the parser's message is passed
// through unchanged, without restating the parser's wording.
func withParseError(t *testing.T, want string) string {
	start := strings.Index(want, "{parse:")
	if start < 0 {
		return want
	}
	expr := strings.TrimSuffix(want[start+len("{parse:"):], "}")
	_, err := selector.Parse(expr)
	if err == nil {
		t.Fatalf("test bug: %q parses", expr)
	}
	return want[:start] + err.Error()
}
