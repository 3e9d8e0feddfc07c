package eval_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/policy/eval"
)

// peer reads "ns/pod" or an IP address.
func peer(s string) eval.Peer {
	if ip, err := netip.ParseAddr(s); err == nil {
		return eval.IPPeer(ip)
	}
	return eval.Peer{Pod: s}
}

func tcp(src, dst string, port uint16) eval.Flow {
	return eval.Flow{Source: peer(src), Destination: peer(dst), Protocol: policy.ProtocolTCP, Port: port}
}

func udp(src, dst string, port uint16) eval.Flow {
	return eval.Flow{Source: peer(src), Destination: peer(dst), Protocol: policy.ProtocolUDP, Port: port}
}

func icmp(src, dst string, typ, code uint8) eval.Flow {
	return eval.Flow{Source: peer(src), Destination: peer(dst), Protocol: policy.ProtocolICMP, ICMPType: typ, ICMPCode: code}
}

// check is one flow and what must come of it. Empty egress/ingress strings are not
// compared.
type check struct {
	flow    eval.Flow
	allowed bool
	egress  string
	ingress string
}

// Common explanation strings.
func noPolicy(dir, pod string) string {
	ns, _, _ := strings.Cut(pod, "/")
	return dir + " " + pod + ": no policy selects the pod: allowed by profile kns." + ns
}

func tierEnd(dir, pod, tier string) string {
	return dir + " " + pod + ": denied at the end of tier " + tier + " (a policy in it selects the pod, no rule matched)"
}

func runChecks(t *testing.T, w *eval.World, checks []check) {
	t.Helper()
	for _, c := range checks {
		v, err := eval.Evaluate(w, c.flow)
		if err != nil {
			t.Errorf("Evaluate(%s): %v", c.flow, err)
			continue
		}
		if v.Allowed != c.allowed {
			t.Errorf("Evaluate(%s).Allowed = %v, want %v\n%s", c.flow, v.Allowed, c.allowed, v)
		}
		if c.egress != "" && v.Egress.String() != c.egress {
			t.Errorf("Evaluate(%s) egress:\n got %s\nwant %s", c.flow, v.Egress, c.egress)
		}
		if c.ingress != "" && v.Ingress.String() != c.ingress {
			t.Errorf("Evaluate(%s) ingress:\n got %s\nwant %s", c.flow, v.Ingress, c.ingress)
		}
	}
}

func TestNoPolicyAllowsByProfile(t *testing.T) {
	w := testWorld(t, "")
	runChecks(t, w, []check{
		{tcp("x/a", "y/b", 80), true, noPolicy("egress", "x/a"), noPolicy("ingress", "y/b")},
		{udp("z/c", "x/a", 9999), true, "", ""},
	})
	v, err := eval.Evaluate(w, tcp("x/a", "y/b", 80))
	if err != nil {
		t.Fatal(err)
	}
	want := "ALLOW x/a -> y/b TCP/80\n  " + noPolicy("egress", "x/a") + "\n  " + noPolicy("ingress", "y/b")
	if v.String() != want {
		t.Errorf("Verdict.String():\n got %q\nwant %q", v.String(), want)
	}
}

const knpDenyAllY = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: "y"}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress: []
`

func TestKubernetesDenyAndAllowAll(t *testing.T) {
	w := testWorld(t, knpDenyAllY)
	runChecks(t, w, []check{
		{tcp("x/a", "y/b", 80), false, noPolicy("egress", "x/a"), tierEnd("ingress", "y/b", "default")},
		{tcp("y/a", "y/b", 80), false, "", ""},
		// Only namespace y is selected; its pods may still send.
		{tcp("y/a", "x/b", 80), true, noPolicy("egress", "y/a"), noPolicy("ingress", "x/b")},
	})
	w = testWorld(t, knpDenyAllY+`---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: "y"}
spec:
  podSelector: {}
  ingress: [{}]
`)
	runChecks(t, w, []check{
		{tcp("x/a", "y/b", 80), true, "", "ingress y/b: allowed by tier default policy y/knp.default.allow-all rule 0 (Allow, spec.ingress[0])"},
		{udp("z/c", "y/c", 5000), true, "", ""},
	})
}

func TestKubernetesPeers(t *testing.T) {
	w := testWorld(t, `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: peers, namespace: "y"}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - podSelector: {matchLabels: {pod: b}}
  - from:
    - namespaceSelector: {matchLabels: {ns: z}}
  - from:
    - namespaceSelector: {matchLabels: {ns: x}}
      podSelector: {matchLabels: {pod: c}}
  - from:
    - ipBlock: {cidr: 192.168.0.0/16, except: [192.168.1.0/24]}
`)
	runChecks(t, w, []check{
		// podSelector alone: only pods of the policy's namespace.
		{tcp("y/b", "y/a", 80), true, "", "ingress y/a: allowed by tier default policy y/knp.default.peers rule 0 (Allow, spec.ingress[0].from[0])"},
		{tcp("x/b", "y/a", 80), false, "", tierEnd("ingress", "y/a", "default")},
		// namespaceSelector alone: any pod of matching namespaces.
		{tcp("z/a", "y/a", 80), true, "", "ingress y/a: allowed by tier default policy y/knp.default.peers rule 1 (Allow, spec.ingress[1].from[0])"},
		{tcp("z/b", "y/a", 81), true, "", ""},
		// Both: AND.
		{tcp("x/c", "y/a", 80), true, "", "ingress y/a: allowed by tier default policy y/knp.default.peers rule 2 (Allow, spec.ingress[2].from[0])"},
		{tcp("x/a", "y/a", 80), false, "", ""},
		{tcp("y/c", "y/a", 80), false, "", ""},
		// ipBlock and except.
		{tcp("192.168.7.1", "y/a", 80), true, "egress 192.168.7.1: not a pod, no policy applies: allowed",
			"ingress y/a: allowed by tier default policy y/knp.default.peers rule 3 (Allow, spec.ingress[3].from[0])"},
		{tcp("192.168.1.9", "y/a", 80), false, "", ""},
		// Pods the policy does not select are untouched.
		{tcp("x/a", "y/b", 80), true, "", noPolicy("ingress", "y/b")},
	})
}

func TestKubernetesPorts(t *testing.T) {
	w := testWorld(t, `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ports, namespace: x}
spec:
  podSelector: {}
  ingress:
  - ports:
    - port: 80
    - protocol: UDP
      port: 1000
      endPort: 1010
    - port: web
`)
	runChecks(t, w, []check{
		{tcp("y/a", "x/a", 80), true, "", ""},
		// A port without protocol is TCP.
		{udp("y/a", "x/a", 80), false, "", ""},
		{udp("y/a", "x/a", 1000), true, "", ""},
		{udp("y/a", "x/a", 1010), true, "", ""},
		{udp("y/a", "x/a", 1011), false, "", ""},
		{tcp("y/a", "x/a", 1005), false, "", ""},
		// Named port "web" resolves per destination pod: 8080 on c, 80 elsewhere.
		{tcp("y/a", "x/c", 8080), true, "", ""},
		{tcp("y/a", "x/b", 8080), false, "", ""},
		{tcp("y/a", "x/c", 81), false, "", ""},
	})
	// Named ports match the container port's protocol too.
	w = testWorld(t, `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns, namespace: x}
spec:
  podSelector: {}
  ingress:
  - ports:
    - {port: dns, protocol: TCP}
    - {port: dns, protocol: UDP}
`)
	runChecks(t, w, []check{
		{udp("y/a", "x/a", 53), true, "", ""},
		{tcp("y/a", "x/a", 53), false, "", ""}, // no TCP container port named dns
	})
}

func TestKubernetesEgressAndBothDirections(t *testing.T) {
	w := testWorld(t, `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  egress:
  - to:
    - namespaceSelector: {matchLabels: {ns: "y"}}
    ports:
    - port: 80
`+"---"+knpDenyAllY)
	runChecks(t, w, []check{
		// Egress rules without policyTypes add Egress; Ingress also applies.
		{tcp("x/a", "z/a", 80), false, tierEnd("egress", "x/a", "default"), noPolicy("ingress", "z/a")},
		{tcp("x/a", "z/a", 81), false, "", ""},
		// Egress allows, but y's ingress denies: both directions must allow.
		{tcp("x/a", "y/b", 80), false, "egress x/a: allowed by tier default policy x/knp.default.egress rule 0 (Allow, spec.egress[0].to[0])",
			tierEnd("ingress", "y/b", "default")},
		// Ingress to x/a with the Ingress type and no ingress rules: denied.
		{tcp("x/b", "x/a", 80), false, noPolicy("egress", "x/b"), tierEnd("ingress", "x/a", "default")},
		// Traffic to an address outside the cluster: only egress applies.
		{tcp("x/b", "8.8.8.8", 53), true, "", "ingress 8.8.8.8: not a pod, no policy applies: allowed"},
		{tcp("x/a", "8.8.8.8", 80), false, "", ""},
	})
}

func TestOrderTiesAndDenyBeforeAllow(t *testing.T) {
	w := testWorld(t, `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: allow, namespace: x}
spec:
  order: 20
  ingress: [{action: Allow}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: deny-81, namespace: x}
spec:
  order: 10
  ingress:
  - {action: Deny, protocol: TCP, destination: {ports: [81]}}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: b-unordered, namespace: x}
spec:
  ingress: [{action: Deny}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: a-tie, namespace: "y"}
spec:
  order: 5
  ingress: [{action: Allow, protocol: UDP}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: b-tie, namespace: "y"}
spec:
  order: 5
  ingress: [{action: Deny}]
`)
	runChecks(t, w, []check{
		// Lower order first: the Deny at 10 wins over the Allow at 20.
		{tcp("y/a", "x/a", 81), false, "", "ingress x/a: denied by tier default policy x/deny-81 rule 0 (Deny, spec.ingress[0])"},
		{tcp("y/a", "x/a", 80), true, "", "ingress x/a: allowed by tier default policy x/allow rule 0 (Allow, spec.ingress[0])"},
		// Ties break by name: a-tie runs before b-tie.
		{udp("x/a", "y/a", 1), true, "", "ingress y/a: allowed by tier default policy y/a-tie rule 0 (Allow, spec.ingress[0])"},
		{tcp("x/a", "y/a", 1), false, "", "ingress y/a: denied by tier default policy y/b-tie rule 0 (Deny, spec.ingress[0])"},
	})
	// nil order sorts last: with the Allow at 20 removed, the unordered Deny decides.
	w.Policies = slicesDelete(w.Policies, "x/allow")
	runChecks(t, w, []check{
		{tcp("y/a", "x/a", 80), false, "", "ingress x/a: denied by tier default policy x/b-unordered rule 0 (Deny, spec.ingress[0])"},
	})
}

func slicesDelete(ps []*policy.Policy, key string) []*policy.Policy {
	var out []*policy.Policy
	for _, p := range ps {
		if p.Key() != key {
			out = append(out, p)
		}
	}
	return out
}

func TestRuleOrderLogAndDenyBeforeAllow(t *testing.T) {
	w := testWorld(t, `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: rules, namespace: x}
spec:
  ingress:
  - {action: Log, source: {selector: pod == 'a'}}
  - {action: Deny, source: {selector: pod == 'b'}}
  - {action: Allow}
`)
	runChecks(t, w, []check{
		{tcp("x/a", "x/c", 80), true, "", "ingress x/c: allowed by tier default policy x/rules rule 2 (Allow, spec.ingress[2]); logged by tier default policy x/rules rule 0 (Log, spec.ingress[0])"},
		{tcp("x/b", "x/c", 80), false, "", "ingress x/c: denied by tier default policy x/rules rule 1 (Deny, spec.ingress[1])"},
	})
}

const tiers = `
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: platform}
spec: {order: 200, defaultAction: Pass}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.quarantine}
spec:
  tier: security
  selector: quarantine == 'true'
  ingress: [{action: Deny}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.pass-y}
spec:
  tier: security
  namespaceSelector: ns == 'y'
  ingress:
  - {action: Pass, source: {selector: pod == 'a'}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: platform.only-udp}
spec:
  tier: platform
  namespaceSelector: ns == 'z'
  ingress: [{action: Allow, protocol: UDP}]
`

func TestTiers(t *testing.T) {
	w := testWorld(t, tiers+"---"+knpDenyAllY)
	w.Pods[0].Labels = map[string]string{"pod": "a", "quarantine": "true"} // x/a
	runChecks(t, w, []check{
		// security runs first: x/a is quarantined whatever later tiers say.
		{tcp("y/a", "x/a", 80), false, "", "ingress x/a: denied by tier security policy security.quarantine rule 0 (Deny, spec.ingress[0])"},
		// In y, Pass from pod a skips to the next tier that selects y/b (default).
		{tcp("x/a", "y/b", 80), false, "", tierEnd("ingress", "y/b", "default") + "; passed tiers security"},
		// security selects y/b but nothing decides for pod b: security's end drops.
		{tcp("x/b", "y/b", 80), false, "", tierEnd("ingress", "y/b", "security")},
		// A tier drops only endpoints it selects: z's pods skip security.
		{udp("x/b", "z/b", 53), true, "", "ingress z/b: allowed by tier platform policy platform.only-udp rule 0 (Allow, spec.ingress[0])"},
		// platform's default action Pass hands on; no later tier selects z/b, so
		// the profile allows.
		{tcp("x/b", "z/b", 80), true, "", "ingress z/b: passed by every tier: allowed by profile kns.z"},
	})
}

func TestPassInLastTierGoesToProfile(t *testing.T) {
	w := testWorld(t, `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: pass, namespace: x}
spec:
  egress: [{action: Pass}]
`)
	runChecks(t, w, []check{
		{tcp("x/a", "y/a", 80), true, "egress x/a: passed by every tier: allowed by profile kns.x", ""},
	})
}

func TestGlobalNetworkPolicyNamespaceSelector(t *testing.T) {
	w := testWorld(t, `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: only-from-x}
spec:
  namespaceSelector: ns in {'y', 'z'}
  selector: pod != 'c'
  ingress:
  - action: Allow
    source: {namespaceSelector: ns == 'x'}
  - action: Allow
    source: {selector: pod == 'c'}
`)
	runChecks(t, w, []check{
		{tcp("x/a", "y/a", 80), true, "", "ingress y/a: allowed by tier default policy only-from-x rule 0 (Allow, spec.ingress[0])"},
		{tcp("z/a", "y/a", 80), false, "", tierEnd("ingress", "y/a", "default")},
		// GNP rule selectors are cluster-wide: c of any namespace.
		{tcp("z/c", "y/a", 80), true, "", ""},
		{tcp("y/c", "z/b", 80), true, "", ""},
		// Not selected: namespace x, or pod c.
		{tcp("z/a", "x/a", 80), true, "", noPolicy("ingress", "x/a")},
		{tcp("z/a", "y/c", 80), true, "", noPolicy("ingress", "y/c")},
	})
}

const networkSets = `
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: partners, namespace: x, labels: {kind: partner}}
spec: {nets: [198.51.100.0/24]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: monitoring, labels: {kind: partner}}
spec: {nets: [203.0.113.0/24]}
`

func TestNetworkSets(t *testing.T) {
	w := testWorld(t, networkSets+`---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: partners, namespace: x}
spec:
  ingress: [{action: Allow, source: {selector: kind == 'partner'}}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: partners, namespace: "y"}
spec:
  ingress:
  - {action: Allow, source: {selector: kind == 'partner'}}
  - {action: Allow, source: {selector: kind == 'partner', namespaceSelector: global()}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: partners-z}
spec:
  namespaceSelector: ns == 'z'
  ingress: [{action: Allow, source: {selector: kind == 'partner'}}]
`)
	runChecks(t, w, []check{
		// A NetworkSet matches rule selectors of policies in its namespace...
		{tcp("198.51.100.7", "x/a", 80), true, "", "ingress x/a: allowed by tier default policy x/partners rule 0 (Allow, spec.ingress[0])"},
		// ...and not those of other namespaces.
		{tcp("198.51.100.7", "y/a", 80), false, "", ""},
		// A GlobalNetworkSet is not matched by a namespaced rule selector...
		{tcp("203.0.113.5", "x/a", 80), false, "", ""},
		// ...unless its namespaceSelector is global().
		{tcp("203.0.113.5", "y/a", 80), true, "", "ingress y/a: allowed by tier default policy y/partners rule 1 (Allow, spec.ingress[1])"},
		// GlobalNetworkPolicy selectors match both kinds of set.
		{tcp("203.0.113.5", "z/a", 80), true, "", ""},
		{tcp("198.51.100.7", "z/a", 80), true, "", ""},
		{tcp("192.0.2.1", "z/a", 80), false, "", ""},
	})
}

func TestServiceAccounts(t *testing.T) {
	w := testWorld(t, `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: sa, namespace: x}
spec:
  serviceAccountSelector: role in {'a', 'b'}
  ingress:
  - {action: Allow, source: {serviceAccounts: {names: [sa-b]}}}
  - {action: Allow, source: {serviceAccounts: {selector: role == 'c'}, namespaceSelector: ns == 'z'}}
`)
	runChecks(t, w, []check{
		// serviceAccountSelector: the policy applies to x/a and x/b, not x/c.
		{tcp("y/a", "x/c", 80), true, "", noPolicy("ingress", "x/c")},
		// names match in the policy's namespace only.
		{tcp("x/b", "x/a", 80), true, "", "ingress x/a: allowed by tier default policy x/sa rule 0 (Allow, spec.ingress[0])"},
		{tcp("y/b", "x/a", 80), false, "", tierEnd("ingress", "x/a", "default")},
		// selector on service-account labels, in namespaces matching.
		{tcp("z/c", "x/b", 80), true, "", "ingress x/b: allowed by tier default policy x/sa rule 1 (Allow, spec.ingress[1])"},
		{tcp("y/c", "x/b", 80), false, "", ""},
	})
}

func TestNegations(t *testing.T) {
	w := testWorld(t, `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: neg, namespace: x}
spec:
  ingress:
  - action: Allow
    protocol: TCP
    source:
      nets: [10.0.0.0/16]
      notNets: [10.0.2.0/24]
      notSelector: pod == 'c'
    destination:
      notPorts: ['81:89', web]
  - action: Allow
    notProtocol: TCP
    source: {selector: pod == 'c'}
`)
	runChecks(t, w, []check{
		{tcp("x/b", "x/a", 80), false, "", ""}, // 80 is x/a's "web"
		{tcp("x/b", "x/a", 8080), true, "", ""},
		{tcp("z/b", "x/a", 8080), true, "", ""},
		{tcp("x/b", "x/a", 85), false, "", ""},
		{tcp("x/b", "x/c", 80), true, "", ""},    // x/c's "web" is 8080
		{tcp("x/b", "x/c", 8080), false, "", ""}, // ...so 8080 is excluded there
		{tcp("y/b", "x/a", 8080), false, "", ""}, // notNets 10.0.2.0/24
		{tcp("x/c", "x/a", 8080), false, "", ""}, // notSelector
		{udp("x/c", "x/a", 53), true, "", "ingress x/a: allowed by tier default policy x/neg rule 1 (Allow, spec.ingress[1])"},
		{tcp("x/c", "x/a", 53), false, "", ""},
	})
}

func TestICMPAndIPVersion(t *testing.T) {
	w := testWorld(t, `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: icmp, namespace: x}
spec:
  ingress:
  - {action: Deny, protocol: ICMP, icmp: {type: 8, code: 1}}
  - {action: Allow, protocol: ICMP, icmp: {type: 8}}
  - {action: Allow, protocol: ICMP, notICMP: {type: 13}}
  - {action: Allow, ipVersion: 6, protocol: TCP}
`)
	runChecks(t, w, []check{
		{icmp("y/a", "x/a", 8, 0), true, "", "ingress x/a: allowed by tier default policy x/icmp rule 1 (Allow, spec.ingress[1])"},
		{icmp("y/a", "x/a", 8, 1), false, "", "ingress x/a: denied by tier default policy x/icmp rule 0 (Deny, spec.ingress[0])"},
		{icmp("y/a", "x/a", 0, 0), true, "", "ingress x/a: allowed by tier default policy x/icmp rule 2 (Allow, spec.ingress[2])"},
		{icmp("y/a", "x/a", 13, 0), false, "", tierEnd("ingress", "x/a", "default")},
		{tcp("y/a", "x/a", 80), false, "", ""}, // pods pick IPv4 first
		{tcp("fd00::2:1", "x/a", 80), true, "", "ingress x/a: allowed by tier default policy x/icmp rule 3 (Allow, spec.ingress[3])"},
	})
}

func TestSourcePorts(t *testing.T) {
	w := testWorld(t, `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: sport, namespace: x}
spec:
  ingress:
  - {action: Allow, protocol: UDP, source: {ports: [dns]}}
  - {action: Allow, protocol: TCP, source: {ports: ['1024:65535']}}
`)
	f := udp("y/a", "x/a", 5000)
	f.SourcePort = 53
	g := tcp("y/a", "x/a", 80)
	g.SourcePort = 1000
	h := tcp("y/a", "x/a", 80)
	h.SourcePort = 40000
	k := udp("1.2.3.4", "x/a", 5000)
	k.SourcePort = 53 // named source ports resolve against the source pod; none here
	runChecks(t, w, []check{{f, true, "", ""}, {g, false, "", ""}, {h, true, "", ""}, {k, false, "", ""}})
}

func TestAddressOfAPodIsThePod(t *testing.T) {
	w := testWorld(t, knpDenyAllY)
	runChecks(t, w, []check{
		{tcp("10.0.1.1", "10.0.2.2", 80), false, noPolicy("egress", "x/a"), tierEnd("ingress", "y/b", "default")},
	})
}

func TestEvaluateErrors(t *testing.T) {
	w := testWorld(t, "")
	for _, tc := range []struct {
		flow eval.Flow
		want string
	}{
		{tcp("x/nope", "y/a", 80), `evaluating x/nope -> y/a TCP/80: source pod "x/nope" not found`},
		{eval.Flow{Source: peer("x/a"), Protocol: policy.ProtocolTCP}, "evaluating x/a -> invalid IP TCP/0: destination has neither a pod nor an IP"},
		{tcp("x/a", "1.2.3.4", 80), ""},
	} {
		_, err := eval.Evaluate(w, tc.flow)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("Evaluate(%s) error = %q, want %q", tc.flow, got, tc.want)
		}
	}
	w.Pods[0].IPs = w.Pods[0].IPs[:1] // x/a: IPv4 only
	if _, err := eval.Evaluate(w, tcp("x/a", "fd00::9", 80)); err == nil {
		t.Error("Evaluate with no common IP family succeeded")
	}
}

func TestKubernetesPeersMatchPodsOnly(t *testing.T) {
	w := testWorld(t, networkSets+`---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: same-ns, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from: [{podSelector: {}}]
  - from: [{namespaceSelector: {}}]
`)
	runChecks(t, w, []check{
		{tcp("x/b", "x/a", 80), true, "", "ingress x/a: allowed by tier default policy x/knp.default.same-ns rule 0 (Allow, spec.ingress[0].from[0])"},
		{tcp("z/b", "x/a", 80), true, "", "ingress x/a: allowed by tier default policy x/knp.default.same-ns rule 1 (Allow, spec.ingress[1].from[0])"},
		// The NetworkSet in x carries x's labels but is not a pod.
		{tcp("198.51.100.7", "x/a", 80), false, "", tierEnd("ingress", "x/a", "default")},
	})
}
