package truthtable

import "testing"

// Expected grids: rows are sources, columns destinations x/a x/b x/c  y/a y/b y/c
// z/a z/b z/c; '.' allowed, 'X' denied. Each grid is written from the scenario's meaning.

func TestCalicoTiers(t *testing.T) { runScenarios(t, calicoTierScenarios) }

var calicoTierScenarios = []scenario{
	{
		name: "tier Pass then default tier",
		doc:  "Tier security denies sources */c and passes the rest; the default tier's Kubernetes deny-all isolates x.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec:
  order: 100
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.block-c}
spec:
  tier: security
  selector: all()
  ingress:
  - action: Deny
    source: {selector: pod == 'c'}
  - action: Pass
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: "x"}
spec:
  podSelector: {}
`,
		checks: []check{
			{TCP, 80, `
			x/a  XXX ... ...
			x/b  XXX ... ...
			x/c  XXX XXX XXX
			y/a  XXX ... ...
			y/b  XXX ... ...
			y/c  XXX XXX XXX
			z/a  XXX ... ...
			z/b  XXX ... ...
			z/c  XXX XXX XXX
			`},
		},
	},
	{
		name: "tier end drops before later tiers",
		doc:  "Tier security selects */a and allows only */b: the tier's end drops the rest, a default-tier allow-all cannot help.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec:
  order: 100
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.a}
spec:
  tier: security
  selector: pod == 'a'
  ingress:
  - action: Allow
    source: {selector: pod == 'b'}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: "x"}
spec:
  podSelector: {}
  ingress: [{}]
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
		name: "tier defaultAction Pass",
		doc:  "The same tier with defaultAction Pass hands unmatched flows to the default tier, where z is isolated.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec:
  order: 100
  defaultAction: Pass
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.a}
spec:
  tier: security
  selector: pod == 'a'
  ingress:
  - action: Allow
    source: {selector: pod == 'b'}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: "z"}
spec:
  podSelector: {}
`,
		checks: []check{
			{TCP, 80, `
			x/a  ... ... XXX
			x/b  ... ... .XX
			x/c  ... ... XXX
			y/a  ... ... XXX
			y/b  ... ... .XX
			y/c  ... ... XXX
			z/a  ... ... XXX
			z/b  ... ... .XX
			z/c  ... ... XXX
			`},
		},
	},
	{
		name: "tiers run by their order",
		doc:  "Tier first (order 50) allows everything before tier second (order 100) can deny sources in y.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: first}
spec:
  order: 50
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: second}
spec:
  order: 100
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: first.allow}
spec:
  tier: first
  selector: all()
  ingress:
  - action: Allow
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: second.deny-y}
spec:
  tier: second
  selector: all()
  ingress:
  - action: Deny
    source: {namespaceSelector: ns == 'y'}
  - action: Pass
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
		},
	},
	{
		name: "tiers run by their order reversed",
		doc:  "Tier second (order 10) now denies sources in y (and passes the rest) before tier first (order 50) allows.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: first}
spec:
  order: 50
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: second}
spec:
  order: 10
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: first.allow}
spec:
  tier: first
  selector: all()
  ingress:
  - action: Allow
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: second.deny-y}
spec:
  tier: second
  selector: all()
  ingress:
  - action: Deny
    source: {namespaceSelector: ns == 'y'}
  - action: Pass
`,
		checks: []check{
			{TCP, 80, `
			x/a  ... ... ...
			x/b  ... ... ...
			x/c  ... ... ...
			y/a  XXX XXX XXX
			y/b  XXX XXX XXX
			y/c  XXX XXX XXX
			z/a  ... ... ...
			z/b  ... ... ...
			z/c  ... ... ...
			`},
		},
	},
	{
		name: "tier without Pass drops at its end",
		doc:  "Tier second (order 10) denies sources in y and has no Pass: everything else ends the tier and is dropped.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: first}
spec:
  order: 50
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: second}
spec:
  order: 10
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: first.allow}
spec:
  tier: first
  selector: all()
  ingress:
  - action: Allow
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: second.deny-y}
spec:
  tier: second
  selector: all()
  ingress:
  - action: Deny
    source: {namespaceSelector: ns == 'y'}
`,
		checks: []check{
			{TCP, 80, `
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
		name: "v3 and Kubernetes policies in the default tier",
		doc:  "A v3 Deny at order 100 beats a Kubernetes allow-all (order 1000) for sources in z.",
		yaml: `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: deny-z, namespace: "x"}
spec:
  order: 100
  selector: all()
  ingress:
  - action: Deny
    source: {namespaceSelector: ns == 'z'}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: "x"}
spec:
  podSelector: {}
  ingress: [{}]
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
}
