package truthtable

import "testing"

// Expected grids: rows are sources, columns destinations x/a x/b x/c  y/a y/b y/c
// z/a z/b z/c; '.' allowed, 'X' denied. Each grid is written from the scenario's meaning.

func TestCalicoGlobalAndSets(t *testing.T) { runScenarios(t, calicoGlobalScenarios) }

var calicoGlobalScenarios = []scenario{
	{
		name: "GlobalNetworkPolicy rule selectors are cluster-wide",
		doc:  "Deny from namespace z to every */a, allow the rest.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: deny-z-to-a}
spec:
  selector: pod == 'a'
  ingress:
  - action: Deny
    source: {namespaceSelector: ns == 'z'}
  - action: Allow
`,
		checks: []check{
			{TCP, 80, `
			x/a  ... ... ...
			x/b  ... ... ...
			x/c  ... ... ...
			y/a  ... ... ...
			y/b  ... ... ...
			y/c  ... ... ...
			z/a  X.. X.. X..
			z/b  X.. X.. X..
			z/c  X.. X.. X..
			`},
		},
	},
	{
		name: "GlobalNetworkPolicy selector is cluster-wide",
		doc:  "Allow only from */b to every */a: the selector pod == 'b' is not scoped to a namespace.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: b-to-a}
spec:
  selector: pod == 'a'
  ingress:
  - action: Allow
    source: {selector: pod == 'b'}
`,
		checks: []check{
			{TCP, 80, `
			x/a  X.. X.. X..
			x/b  ... ... ...
			x/c  X.. X.. X..
			y/a  X.. X.. X..
			y/b  ... ... ...
			y/c  X.. X.. X..
			z/a  X.. X.. X..
			z/b  ... ... ...
			z/c  X.. X.. X..
			`},
		},
	},
	{
		name: "GlobalNetworkPolicy namespaceSelector",
		doc:  "spec.namespaceSelector ns == 'y' applies the deny to namespace y only.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: isolate-y}
spec:
  namespaceSelector: ns == 'y'
  selector: all()
  types: [Ingress]
`,
		checks: []check{
			{TCP, 80, `
			x/a  ... XXX ...
			x/b  ... XXX ...
			x/c  ... XXX ...
			y/a  ... XXX ...
			y/b  ... XXX ...
			y/c  ... XXX ...
			z/a  ... XXX ...
			z/b  ... XXX ...
			z/c  ... XXX ...
			`},
		},
	},
	{
		name: "notNets",
		doc:  "*/b accept everything outside 10.0.1.0/24.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: not-x}
spec:
  selector: pod == 'b'
  ingress:
  - action: Allow
    source: {notNets: [10.0.1.0/24]}
`,
		checks: []check{
			{TCP, 80, `
			x/a  .X. .X. .X.
			x/b  .X. .X. .X.
			x/c  .X. .X. .X.
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
		name: "GlobalNetworkSet in a selector",
		doc:  "A labelled /32 of y/a is the only trusted source of */a.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: trusted, labels: {role: trusted}}
spec: {nets: [10.0.2.1/32]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: trusted-to-a}
spec:
  selector: pod == 'a'
  ingress:
  - action: Allow
    source: {selector: role == 'trusted'}
`,
		checks: []check{
			{TCP, 80, `
			x/a  X.. X.. X..
			x/b  X.. X.. X..
			x/c  X.. X.. X..
			y/a  ... ... ...
			y/b  X.. X.. X..
			y/c  X.. X.. X..
			z/a  X.. X.. X..
			z/b  X.. X.. X..
			z/c  X.. X.. X..
			`},
		},
	},
	{
		name: "NetworkSet in a namespaced policy",
		doc:  "A NetworkSet of x covering 10.0.3.0/24 admits namespace z to x/a.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: zset, namespace: "x", labels: {role: trusted}}
spec: {nets: [10.0.3.0/24]}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: trusted, namespace: "x"}
spec:
  selector: pod == 'a'
  ingress:
  - action: Allow
    source: {selector: role == 'trusted'}
`,
		checks: []check{
			{TCP, 80, `
			x/a  X.. ... ...
			x/b  X.. ... ...
			x/c  X.. ... ...
			y/a  X.. ... ...
			y/b  X.. ... ...
			y/c  X.. ... ...
			z/a  ... ... ...
			z/b  ... ... ...
			z/c  ... ... ...
			`},
		},
	},
}
