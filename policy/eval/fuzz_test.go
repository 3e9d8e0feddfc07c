package eval_test

import (
	"net/netip"
	"testing"

	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/policy/eval"
)

// FuzzYAMLToVerdict feeds arbitrary YAML through decoding, conversion into the
// model and the evaluator. Invalid input must give errors, never a panic, and
// every verdict must be consistent (allowed exactly when both directions allow)
// and deterministic.
func FuzzYAMLToVerdict(f *testing.F) {
	for _, seed := range []string{
		knpDenyAllY, tiers, networkSets,
		"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\nspec:\n  podSelector: {matchExpressions: [{key: pod, operator: In, values: [a]}]}\n  ingress:\n  - from: [{namespaceSelector: {}, podSelector: {matchLabels: {pod: b}}}, {ipBlock: {cidr: 10.0.0.0/8, except: [10.0.2.0/24]}}]\n    ports: [{port: web}, {protocol: UDP, port: 50, endPort: 60}]\n  egress: [{}]\n",
		"apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\nspec:\n  order: 1\n  selector: pod in {'a','b'}\n  ingress:\n  - {action: Log}\n  - {action: Deny, protocol: TCP, source: {notSelector: pod == 'c', ports: ['1:1024']}, destination: {notPorts: [web]}}\n  - {action: Pass, notProtocol: UDP, icmp: {type: 3}}\n  - {action: Allow, ipVersion: 6, source: {serviceAccounts: {names: [sa-a], selector: role == 'b'}, namespaceSelector: ns == 'z'}}\n",
		"apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n  tier: t\n  namespaceSelector: global()\n  egress: [{action: Allow, destination: {nets: ['fd00::/8'], notNets: ['fd00::2:0/112']}}]\n",
		"kind: Tier\nmetadata: {name: t}\nspec: {order: 5, defaultAction: Pass}\n",
		"{}",
		"kind: [",
	} {
		f.Add([]byte(seed), uint16(80), uint8(6))
	}
	f.Fuzz(func(t *testing.T, data []byte, port uint16, proto uint8) {
		w := testWorld(t, "")
		if err := decodeInto(w, data); err != nil {
			return
		}
		if proto == 0 {
			proto = 6
		}
		peers := []eval.Peer{
			eval.PodPeer("x", "a"), eval.PodPeer("y", "b"), eval.PodPeer("z", "c"),
			eval.IPPeer(netip.MustParseAddr("10.0.2.2")), eval.IPPeer(netip.MustParseAddr("203.0.113.5")),
			eval.IPPeer(netip.MustParseAddr("fd00::2:1")),
		}
		for _, src := range peers {
			for _, dst := range peers {
				flow := eval.Flow{Source: src, Destination: dst, Protocol: policy.Protocol(proto), Port: port,
					SourcePort: port ^ 0x5555, ICMPType: uint8(port), ICMPCode: uint8(port >> 8)}
				v, err := eval.Evaluate(w, flow)
				if err != nil {
					continue // mixed address families
				}
				if v.Allowed != (v.Egress.Allowed && v.Ingress.Allowed) {
					t.Fatalf("inconsistent verdict: %s", v)
				}
				again, _ := eval.Evaluate(w, flow)
				if again.String() != v.String() {
					t.Fatalf("non-deterministic verdict:\n%s\n%s", v, again)
				}
			}
		}
	})
}
