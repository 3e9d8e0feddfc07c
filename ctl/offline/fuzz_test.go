package offline

import (
	"testing"

	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/resource"
)

const fuzzWorld = `apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {ns: x}}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {pod: a}}
spec: {containers: [{name: c, ports: [{name: http, containerPort: 80}]}]}
status: {podIP: 10.0.1.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x, labels: {pod: b}}
spec: {containers: [{name: c}]}
status: {podIPs: [{ip: 10.0.1.2}, {ip: "fd00::2"}]}
`

// FuzzYAMLToMatrix: arbitrary manifests added to a small world go through the whole
// offline path (decode → model → evaluator) without a panic.
func FuzzYAMLToMatrix(f *testing.F) {
	f.Add([]byte("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.1.2/32]}}], ports: [{port: http}, {port: 81, endPort: 90}]}]\n"))
	f.Add([]byte("apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: t.g}\nspec:\n  tier: t\n  selector: has(pod)\n  ingress: [{action: Pass}, {action: Deny, source: {notNets: ['fd00::/8'], notSelector: pod == 'b'}}]\n---\napiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t}\nspec: {order: 1, defaultAction: Pass}\n"))
	f.Add([]byte("apiVersion: projectcalico.org/v3\nkind: NetworkSet\nmetadata: {name: s, namespace: x, labels: {a: b}}\nspec: {nets: [10.0.1.0/24]}\n---\napiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: n, namespace: x}\nspec: {selector: all(), egress: [{action: Allow, destination: {selector: a == 'b', ports: ['1:65535']}}]}\n"))
	base, err := resource.Decode("world.yaml", []byte(fuzzWorld))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		extra, _ := resource.Decode("fuzz.yaml", data)
		w, _, err := BuildWorld(append(append([]resource.Object{}, base...), extra...))
		if err != nil {
			return
		}
		for _, proto := range []policy.Protocol{policy.ProtocolTCP, policy.ProtocolUDP} {
			if _, err := ComputeMatrix(w, proto, 80); err != nil {
				return
			}
		}
	})
}
