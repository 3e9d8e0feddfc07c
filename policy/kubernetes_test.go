package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/palisadenet/palisade/policy/selector"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func knp(spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "x"}, Spec: spec}
}

// knpWant is the converted policy with the fields every Kubernetes policy shares.
func knpWant(endpoints string, types []Direction, ingress, egress []Rule) *Policy {
	return &Policy{
		Kind: KindKubernetesNetworkPolicy, Tier: "default", Name: "knp.default.p", Namespace: "x",
		Order: order(1000), Selector: "all()", Endpoints: ksel(endpoints), Types: types,
		Ingress: ingress, Egress: egress,
	}
}

var (
	tcpProto  = corev1.ProtocolTCP
	udpProto  = corev1.ProtocolUDP
	sctpProto = corev1.ProtocolSCTP
	inNS      = `projectcalico.org/namespace == "x"`
	podsOnly  = ` && projectcalico.org/orchestrator == "k8s"`
)

// ksel is a selector of a Kubernetes policy: pods only.
func ksel(s string) *selector.Selector { return sel("(" + s + ")" + podsOnly) }

func ls(kv ...string) *metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

func intPort(n int) *intstr.IntOrString {
	p := intstr.FromInt32(int32(n))
	return &p
}

func namedPort(s string) *intstr.IntOrString {
	p := intstr.FromString(s)
	return &p
}

func i32(n int32) *int32 { return &n }

func ingressFrom(peers ...networkingv1.NetworkPolicyPeer) networkingv1.NetworkPolicySpec {
	return networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{From: peers}}}
}

func ingressPorts(ports ...networkingv1.NetworkPolicyPort) networkingv1.NetworkPolicySpec {
	return networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: ports}}}
}

func TestFromKubernetes(t *testing.T) {
	in := []Direction{Ingress}
	both := []Direction{Ingress, Egress}
	allowAll := Rule{Action: Allow, Origin: "spec.ingress[0]"}
	tests := []struct {
		name string
		np   *networkingv1.NetworkPolicy
		want *Policy
	}{{
		name: "empty podSelector selects every pod of the namespace; no types means Ingress; no rules",
		np:   knp(networkingv1.NetworkPolicySpec{}),
		want: knpWant(inNS, in, nil, nil),
	}, {
		name: "ingress: [] with Ingress type keeps no rule (deny all)",
		np:   knp(networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{}, PolicyTypes: []networkingv1.PolicyType{"Ingress"}}),
		want: knpWant(inNS, in, nil, nil),
	}, {
		name: "ingress: [{}] is one rule that allows all",
		np:   knp(networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{}}}),
		want: knpWant(inNS, in, []Rule{allowAll}, nil),
	}, {
		name: "from: [] means every source",
		np:   knp(networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{}}}}),
		want: knpWant(inNS, in, []Rule{allowAll}, nil),
	}, {
		name: "egress rules without policyTypes add Egress",
		np:   knp(networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{}}}),
		want: knpWant(inNS, both, nil, []Rule{{Action: Allow, Origin: "spec.egress[0]"}}),
	}, {
		name: "policyTypes Egress only",
		np:   knp(networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{"Egress"}}),
		want: knpWant(inNS, []Direction{Egress}, nil, nil),
	}, {
		name: "policyTypes both, no rules",
		np:   knp(networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{"Egress", "Ingress"}}),
		want: knpWant(inNS, both, nil, nil),
	}, {
		name: "podSelector matchLabels sorted by key, ANDed with the namespace",
		np:   knp(networkingv1.NetworkPolicySpec{PodSelector: *ls("tier", "web", "app", "a")}),
		want: func() *Policy {
			p := knpWant(`app == "a" && tier == "web" && `+inNS, in, nil, nil)
			p.Selector = `app == "a" && tier == "web"`
			return p
		}(),
	}, {
		name: "matchExpressions In, NotIn, Exists, DoesNotExist",
		np: knp(networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"prod", "dev"}},
			{Key: "team", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"b"}},
			{Key: "app", Operator: metav1.LabelSelectorOpExists},
			{Key: "legacy", Operator: metav1.LabelSelectorOpDoesNotExist},
		}}}),
		want: func() *Policy {
			s := `env in {"prod", "dev"} && team not in {"b"} && has(app) && !has(legacy)`
			p := knpWant(`env in {"dev", "prod"} && team not in {"b"} && has(app) && !has(legacy) && `+inNS, in, nil, nil)
			p.Selector = s
			return p
		}(),
	}, {
		name: "podSelector peer stays in the policy's namespace",
		np:   knp(ingressFrom(networkingv1.NetworkPolicyPeer{PodSelector: ls("app", "b")})),
		want: knpWant(inNS, in, []Rule{{Action: Allow, Origin: "spec.ingress[0].from[0]",
			Source: EntityRule{Selector: `app == "b"`, Peer: ksel(`app == "b" && ` + inNS)}}}, nil),
	}, {
		name: "empty podSelector peer is every pod of the policy's namespace",
		np:   knp(ingressFrom(networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{}})),
		want: knpWant(inNS, in, []Rule{{Action: Allow, Origin: "spec.ingress[0].from[0]",
			Source: EntityRule{Selector: "all()", Peer: ksel(inNS)}}}, nil),
	}, {
		name: "namespaceSelector alone is any pod in matching namespaces",
		np:   knp(ingressFrom(networkingv1.NetworkPolicyPeer{NamespaceSelector: ls("team", "a")})),
		want: knpWant(inNS, in, []Rule{{Action: Allow, Origin: "spec.ingress[0].from[0]",
			Source: EntityRule{NamespaceSelector: `team == "a"`, Peer: ksel(`has(projectcalico.org/namespace) && pcns.team == "a"`)}}}, nil),
	}, {
		name: "empty namespaceSelector is any pod in any namespace",
		np:   knp(ingressFrom(networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}})),
		want: knpWant(inNS, in, []Rule{{Action: Allow, Origin: "spec.ingress[0].from[0]",
			Source: EntityRule{NamespaceSelector: "all()", Peer: ksel(`has(projectcalico.org/namespace)`)}}}, nil),
	}, {
		name: "podSelector and namespaceSelector together are ANDed",
		np:   knp(ingressFrom(networkingv1.NetworkPolicyPeer{PodSelector: ls("app", "b"), NamespaceSelector: ls("team", "a")})),
		want: knpWant(inNS, in, []Rule{{Action: Allow, Origin: "spec.ingress[0].from[0]",
			Source: EntityRule{Selector: `app == "b"`, NamespaceSelector: `team == "a"`,
				Peer: ksel(`app == "b" && has(projectcalico.org/namespace) && pcns.team == "a"`)}}}, nil),
	}, {
		name: "ipBlock gives nets and except gives notNets",
		np: knp(ingressFrom(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{
			CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16", "10.2.0.0/16"}}})),
		want: knpWant(inNS, in, []Rule{{Action: Allow, Origin: "spec.ingress[0].from[0]",
			Source: EntityRule{Nets: nets("10.0.0.0/8"), NotNets: nets("10.1.0.0/16", "10.2.0.0/16")}}}, nil),
	}, {
		name: "ipBlock host bits are masked",
		np:   knp(ingressFrom(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "fd00::1/64"}})),
		want: knpWant(inNS, in, []Rule{{Action: Allow, Origin: "spec.ingress[0].from[0]",
			Source: EntityRule{Nets: nets("fd00::/64")}}}, nil),
	}, {
		name: "several peers give one rule each",
		np: knp(ingressFrom(
			networkingv1.NetworkPolicyPeer{PodSelector: ls("app", "b")},
			networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "192.168.0.0/16"}})),
		want: knpWant(inNS, in, []Rule{
			{Action: Allow, Origin: "spec.ingress[0].from[0]", Source: EntityRule{Selector: `app == "b"`, Peer: ksel(`app == "b" && ` + inNS)}},
			{Action: Allow, Origin: "spec.ingress[0].from[1]", Source: EntityRule{Nets: nets("192.168.0.0/16")}},
		}, nil),
	}, {
		name: "a port without protocol is TCP",
		np:   knp(ingressPorts(networkingv1.NetworkPolicyPort{Port: intPort(80)})),
		want: knpWant(inNS, in, []Rule{{Action: Allow, Origin: "spec.ingress[0]", Protocol: proto(ProtocolTCP),
			Destination: EntityRule{Ports: []Port{port(80)}}}}, nil),
	}, {
		name: "UDP and SCTP ports",
		np: knp(ingressPorts(networkingv1.NetworkPolicyPort{Protocol: &udpProto, Port: intPort(53)},
			networkingv1.NetworkPolicyPort{Protocol: &sctpProto, Port: intPort(9000)})),
		want: knpWant(inNS, in, []Rule{
			{Action: Allow, Origin: "spec.ingress[0]", Protocol: proto(ProtocolUDP), Destination: EntityRule{Ports: []Port{port(53)}}},
			{Action: Allow, Origin: "spec.ingress[0]", Protocol: proto(ProtocolSCTP), Destination: EntityRule{Ports: []Port{port(9000)}}},
		}, nil),
	}, {
		name: "ports of one protocol share a rule; port+endPort is a range; named ports kept",
		np: knp(ingressPorts(networkingv1.NetworkPolicyPort{Protocol: &tcpProto, Port: intPort(80)},
			networkingv1.NetworkPolicyPort{Port: intPort(8000), EndPort: i32(8080)},
			networkingv1.NetworkPolicyPort{Port: namedPort("http")})),
		want: knpWant(inNS, in, []Rule{{Action: Allow, Origin: "spec.ingress[0]", Protocol: proto(ProtocolTCP),
			Destination: EntityRule{Ports: []Port{port(80), {First: 8000, Last: 8080}, {Name: "http"}}}}}, nil),
	}, {
		name: "a protocol without port opens every port of it",
		np: knp(ingressPorts(networkingv1.NetworkPolicyPort{Protocol: &udpProto},
			networkingv1.NetworkPolicyPort{Protocol: &udpProto, Port: intPort(53)})),
		want: knpWant(inNS, in, []Rule{{Action: Allow, Origin: "spec.ingress[0]", Protocol: proto(ProtocolUDP)}}, nil),
	}, {
		name: "peers times protocols",
		np: knp(networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{PodSelector: ls("app", "b")}, {NamespaceSelector: ls("team", "a")}},
			Ports: []networkingv1.NetworkPolicyPort{{Port: intPort(80)}, {Protocol: &udpProto, Port: intPort(53)}},
		}}}),
		want: func() *Policy {
			pod := EntityRule{Selector: `app == "b"`, Peer: ksel(`app == "b" && ` + inNS)}
			ns := EntityRule{NamespaceSelector: `team == "a"`, Peer: ksel(`has(projectcalico.org/namespace) && pcns.team == "a"`)}
			tcp80 := EntityRule{Ports: []Port{port(80)}}
			udp53 := EntityRule{Ports: []Port{port(53)}}
			return knpWant(inNS, in, []Rule{
				{Action: Allow, Origin: "spec.ingress[0].from[0]", Protocol: proto(ProtocolTCP), Source: pod, Destination: tcp80},
				{Action: Allow, Origin: "spec.ingress[0].from[0]", Protocol: proto(ProtocolUDP), Source: pod, Destination: udp53},
				{Action: Allow, Origin: "spec.ingress[0].from[1]", Protocol: proto(ProtocolTCP), Source: ns, Destination: tcp80},
				{Action: Allow, Origin: "spec.ingress[0].from[1]", Protocol: proto(ProtocolUDP), Source: ns, Destination: udp53},
			}, nil)
		}(),
	}, {
		name: "egress to ipBlock and ports: destination carries both",
		np: knp(networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{"Egress"},
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"169.254.0.0/16"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udpProto, Port: intPort(53)}},
			}},
		}),
		want: knpWant(inNS, []Direction{Egress}, nil, []Rule{{Action: Allow, Origin: "spec.egress[0].to[0]", Protocol: proto(ProtocolUDP),
			Destination: EntityRule{Nets: nets("0.0.0.0/0"), NotNets: nets("169.254.0.0/16"), Ports: []Port{port(53)}}}}),
	}, {
		name: "egress to pods: destination selector and ports",
		np: knp(networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{
			To:    []networkingv1.NetworkPolicyPeer{{PodSelector: ls("app", "db")}},
			Ports: []networkingv1.NetworkPolicyPort{{Port: namedPort("postgres")}},
		}}}),
		want: knpWant(inNS, both, nil, []Rule{{Action: Allow, Origin: "spec.egress[0].to[0]", Protocol: proto(ProtocolTCP),
			Destination: EntityRule{Selector: `app == "db"`, Peer: ksel(`app == "db" && ` + inNS), Ports: []Port{{Name: "postgres"}}}}}),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromKubernetes(tc.np)
			if err != nil {
				t.Fatalf("FromKubernetes: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmpOpts...); diff != "" {
				t.Errorf("policy mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFromKubernetesErrors(t *testing.T) {
	bad := corev1.Protocol("ICMP")
	tests := []struct {
		name string
		np   *networkingv1.NetworkPolicy
		want string
	}{
		{"port out of range", knp(ingressPorts(networkingv1.NetworkPolicyPort{Port: intPort(70000)})),
			"spec.ingress[0].ports[0].port: port 70000 out of range"},
		{"port zero", knp(ingressPorts(networkingv1.NetworkPolicyPort{Port: intPort(0)})),
			"spec.ingress[0].ports[0].port: port 0 out of range"},
		{"unknown protocol", knp(ingressPorts(networkingv1.NetworkPolicyPort{Protocol: &bad, Port: intPort(1)})),
			`spec.ingress[0].ports[0].protocol: unknown protocol "ICMP" (want TCP, UDP or SCTP)`},
		{"endPort below port", knp(ingressPorts(networkingv1.NetworkPolicyPort{Port: intPort(90), EndPort: i32(80)})),
			"spec.ingress[0].ports[0].endPort: endPort 80 is below port 90"},
		{"endPort out of range", knp(ingressPorts(networkingv1.NetworkPolicyPort{Port: intPort(90), EndPort: i32(65536)})),
			"spec.ingress[0].ports[0].endPort: port 65536 out of range"},
		{"endPort with named port", knp(ingressPorts(networkingv1.NetworkPolicyPort{Port: namedPort("http"), EndPort: i32(80)})),
			`spec.ingress[0].ports[0].endPort: endPort cannot be used with named port "http"`},
		{"endPort without port", knp(ingressPorts(networkingv1.NetworkPolicyPort{EndPort: i32(80)})),
			"spec.ingress[0].ports[0].endPort: endPort requires port"},
		{"invalid port name", knp(ingressPorts(networkingv1.NetworkPolicyPort{Port: namedPort("HTTP_x")})),
			`spec.ingress[0].ports[0].port: invalid port name "HTTP_x": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`},
		{"invalid cidr", knp(ingressFrom(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/33"}})),
			`spec.ingress[0].from[0].ipBlock.cidr: invalid CIDR "10.0.0.0/33"`},
		{"except outside cidr", knp(ingressFrom(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/16", Except: []string{"10.1.0.0/24"}}})),
			"spec.ingress[0].from[0].ipBlock.except[0]: 10.1.0.0/24 is not strictly inside cidr 10.0.0.0/16"},
		{"ipBlock with selector", knp(ingressFrom(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/16"}, PodSelector: ls()})),
			"spec.ingress[0].from[0]: ipBlock cannot be combined with podSelector or namespaceSelector"},
		{"empty peer", knp(networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{}}}}}),
			"spec.egress[0].to[0]: a peer needs podSelector, namespaceSelector or ipBlock"},
		{"bad label key", knp(networkingv1.NetworkPolicySpec{PodSelector: *ls("a b", "c")}),
			`spec.podSelector.matchLabels[a b]: invalid label key "a b": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`},
		{"In without values", knp(ingressFrom(networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "In"}}}})),
			"spec.ingress[0].from[0].namespaceSelector.matchExpressions[0]: operator In needs at least one value"},
		{"Exists with values", knp(networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Exists", Values: []string{"x"}}}}}),
			"spec.podSelector.matchExpressions[0]: operator Exists takes no values"},
		{"unknown operator", knp(networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Gt"}}}}),
			`spec.podSelector.matchExpressions[0]: unknown operator "Gt" (want In, NotIn, Exists or DoesNotExist)`},
		{"unknown policy type", knp(networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{"Sideways"}}),
			`spec.policyTypes[0]: unknown policy type "Sideways" (want Ingress or Egress)`},
		{"missing namespace", &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"}},
			"metadata.namespace: namespace is required"},
		{"several errors are all reported", knp(networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{
			{Ports: []networkingv1.NetworkPolicyPort{{Port: intPort(70000)}}},
			{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "x"}}}},
		}}), `spec.ingress[0].ports[0].port: port 70000 out of range; spec.ingress[1].from[0].ipBlock.cidr: invalid CIDR "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := FromKubernetes(tc.np)
			if err == nil {
				t.Fatalf("FromKubernetes succeeded with %+v, want error %q", p, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n got %q\nwant %q", err.Error(), tc.want)
			}
		})
	}
}
