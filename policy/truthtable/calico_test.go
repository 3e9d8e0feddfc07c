package truthtable

import "testing"

// Expected grids: rows are sources, columns destinations x/a x/b x/c  y/a y/b y/c
// z/a z/b z/c; '.' allowed, 'X' denied. Each grid is written from the scenario's meaning.

func TestCalicoRules(t *testing.T) { runScenarios(t, calicoRuleScenarios) }

var calicoRuleScenarios = []scenario{
	{
		name: "v3 deny before allow in one policy",
		doc:  "Rules run in order: Deny from namespace y, then Allow everything.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: deny-y, namespace: "x"}
spec:
  selector: pod == 'a'
  ingress:
  - action: Deny
    source: {namespaceSelector: ns == 'y'}
  - action: Allow
`,
		checks: []check{
			{TCP, 80, `
			x/a  ... ... ...
			x/b  ... ... ...
			x/c  ... ... ...
			y/a  X.. ... ...
			y/b  X.. ... ...
			y/c  X.. ... ...
			z/a  ... ... ...
			z/b  ... ... ...
			z/c  ... ... ...
			`},
		},
	},
	{
		name: "v3 rule selector stays in the policy namespace",
		doc:  "Deny source pod == 'b' only matches x/b in a namespaced policy.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: deny-b, namespace: "x"}
spec:
  selector: pod == 'a'
  ingress:
  - action: Deny
    source: {selector: pod == 'b'}
  - action: Allow
`,
		checks: []check{
			{TCP, 80, `
			x/a  ... ... ...
			x/b  X.. ... ...
			x/c  ... ... ...
			y/a  ... ... ...
			y/b  ... ... ...
			y/c  ... ... ...
			z/a  ... ... ...
			z/b  ... ... ...
			z/c  ... ... ...
			`},
		},
	},
	{
		name: "v3 lower order first",
		doc:  "Allow x/b at order 100 runs before Deny all at order 200.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: allow-b, namespace: "x"}
spec:
  order: 100
  selector: pod == 'a'
  ingress:
  - action: Allow
    source: {selector: pod == 'b'}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: deny, namespace: "x"}
spec:
  order: 200
  selector: pod == 'a'
  ingress:
  - action: Deny
`,
		checks: []check{
			{TCP, 80, `
			x/a  X.. ... ...
			x/b  ... ... ...
			x/c  X.. ... ...
			y/a  X.. ... ...
			y/b  X.. ... ...
			y/c  X.. ... ...
			z/a  X.. ... ...
			z/b  X.. ... ...
			z/c  X.. ... ...
			`},
		},
	},
	{
		name: "v3 higher order later",
		doc:  "Deny all at order 100 runs before Allow x/b at order 200.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: allow-b, namespace: "x"}
spec:
  order: 200
  selector: pod == 'a'
  ingress:
  - action: Allow
    source: {selector: pod == 'b'}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: deny, namespace: "x"}
spec:
  order: 100
  selector: pod == 'a'
  ingress:
  - action: Deny
`,
		checks: []check{
			{TCP, 80, `
			x/a  X.. ... ...
			x/b  X.. ... ...
			x/c  X.. ... ...
			y/a  X.. ... ...
			y/b  X.. ... ...
			y/c  X.. ... ...
			z/a  X.. ... ...
			z/b  X.. ... ...
			z/c  X.. ... ...
			`},
		},
	},
	{
		name: "v3 order ties break by name",
		doc:  "Same order: aaa-deny sorts before zzz-allow.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: zzz-allow, namespace: "x"}
spec:
  order: 10
  selector: all()
  ingress:
  - action: Allow
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: aaa-deny, namespace: "x"}
spec:
  order: 10
  selector: all()
  ingress:
  - action: Deny
    source: {namespaceSelector: ns == 'z'}
`,
		checks: []check{
			{TCP, 80, `
			x/a  ... ... ...
			x/b  ... ... ...
			x/c  ... ... ...
			y/a  ... ... ...
			y/b  ... ... ...
			y/c  ... ... ...
			z/a  XXX ... ...
			z/b  XXX ... ...
			z/c  XXX ... ...
			`},
		},
	},
	{
		name: "v3 Log continues",
		doc:  "A Log rule matches and the next rule decides.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: log-then-deny, namespace: "x"}
spec:
  selector: all()
  ingress:
  - action: Log
  - action: Deny
    source: {namespaceSelector: ns == 'x'}
  - action: Allow
`,
		checks: []check{
			{TCP, 80, `
			x/a  XXX ... ...
			x/b  XXX ... ...
			x/c  XXX ... ...
			y/a  ... ... ...
			y/b  ... ... ...
			y/c  ... ... ...
			z/a  ... ... ...
			z/b  ... ... ...
			z/c  ... ... ...
			`},
		},
	},
	{
		name: "v3 egress",
		doc:  "Pods of y may send only to namespace z.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: to-z, namespace: "y"}
spec:
  selector: all()
  types: [Egress]
  egress:
  - action: Allow
    destination: {namespaceSelector: ns == 'z'}
`,
		checks: []check{
			{TCP, 80, `
			x/a  ... ... ...
			x/b  ... ... ...
			x/c  ... ... ...
			y/a  XXX XXX ...
			y/b  XXX XXX ...
			y/c  XXX XXX ...
			z/a  ... ... ...
			z/b  ... ... ...
			z/c  ... ... ...
			`},
		},
	},
	{
		name: "v3 protocol and port",
		doc:  "Only UDP 81 is allowed to all pods.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: udp81}
spec:
  selector: all()
  types: [Ingress]
  ingress:
  - action: Allow
    protocol: UDP
    destination: {ports: [81]}
`,
		checks: []check{
			{UDP, 81, `
			x/a  ... ... ...
			x/b  ... ... ...
			x/c  ... ... ...
			y/a  ... ... ...
			y/b  ... ... ...
			y/c  ... ... ...
			z/a  ... ... ...
			z/b  ... ... ...
			z/c  ... ... ...
			`},
			{UDP, 80, `
			x/a  XXX XXX XXX
			x/b  XXX XXX XXX
			x/c  XXX XXX XXX
			y/a  XXX XXX XXX
			y/b  XXX XXX XXX
			y/c  XXX XXX XXX
			z/a  XXX XXX XXX
			z/b  XXX XXX XXX
			z/c  XXX XXX XXX
			`},
			{TCP, 81, `
			x/a  XXX XXX XXX
			x/b  XXX XXX XXX
			x/c  XXX XXX XXX
			y/a  XXX XXX XXX
			y/b  XXX XXX XXX
			y/c  XXX XXX XXX
			z/a  XXX XXX XXX
			z/b  XXX XXX XXX
			z/c  XXX XXX XXX
			`},
		},
	},
	{
		name: "v3 port range string and notPorts",
		doc:  "Ports '80:90' but not 81.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: range}
spec:
  selector: all()
  ingress:
  - action: Allow
    protocol: TCP
    destination: {ports: ['80:90'], notPorts: [81]}
`,
		checks: []check{
			{TCP, 80, `
			x/a  ... ... ...
			x/b  ... ... ...
			x/c  ... ... ...
			y/a  ... ... ...
			y/b  ... ... ...
			y/c  ... ... ...
			z/a  ... ... ...
			z/b  ... ... ...
			z/c  ... ... ...
			`},
			{TCP, 81, `
			x/a  XXX XXX XXX
			x/b  XXX XXX XXX
			x/c  XXX XXX XXX
			y/a  XXX XXX XXX
			y/b  XXX XXX XXX
			y/c  XXX XXX XXX
			z/a  XXX XXX XXX
			z/b  XXX XXX XXX
			z/c  XXX XXX XXX
			`},
		},
	},
	{
		name: "v3 named port",
		doc:  "*/c accept only their serve-81-tcp port.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: named}
spec:
  selector: pod == 'c'
  ingress:
  - action: Allow
    protocol: TCP
    destination: {ports: [serve-81-tcp]}
`,
		checks: []check{
			{TCP, 81, `
			x/a  ... ... ...
			x/b  ... ... ...
			x/c  ... ... ...
			y/a  ... ... ...
			y/b  ... ... ...
			y/c  ... ... ...
			z/a  ... ... ...
			z/b  ... ... ...
			z/c  ... ... ...
			`},
			{TCP, 80, `
			x/a  ..X ..X ..X
			x/b  ..X ..X ..X
			x/c  ..X ..X ..X
			y/a  ..X ..X ..X
			y/b  ..X ..X ..X
			y/c  ..X ..X ..X
			z/a  ..X ..X ..X
			z/b  ..X ..X ..X
			z/c  ..X ..X ..X
			`},
		},
	},
}
