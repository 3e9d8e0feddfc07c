package calc

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/calc/desired"
	"github.com/palisadenet/palisade/resource"
	"go.uber.org/zap/zaptest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

const testNode = "node1"

// namedState is a datastore content and the desired state it must produce, as
// summary lines (see summary).
type namedState struct {
	name    string
	objects string // YAML documents
	extra   []runtime.Object
	want    []string
}

const baseObjects = `
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: x}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {team: yy}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec:
  nodeName: node1
  containers: [{name: c, image: i, ports: [{name: http, containerPort: 80}]}]
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: a, labels: {app: db}}
spec:
  nodeName: node1
  containers: [{name: c, image: i, ports: [{name: http, containerPort: 8080}, {name: dns, containerPort: 53, protocol: UDP}]}]
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: b, labels: {app: client}}
spec:
  nodeName: node2
  containers: [{name: c, image: i}]
status: {podIPs: [{ip: 10.0.1.1}, {ip: "fd00::1"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: pending, namespace: a, labels: {app: web}}
spec: {nodeName: node1, containers: [{name: c, image: i}]}
`

const k8sPolicy = `
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-allow, namespace: a}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: yy}}}]
    ports: [{port: http}]
`

const v3Policies = `
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: block-ext}
spec:
  tier: security
  selector: all()
  types: [Ingress]
  ingress:
  - {action: Deny, source: {selector: role == 'ext'}}
  - {action: Pass}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web-egress, namespace: a}
spec:
  order: 10
  selector: app == 'web'
  egress:
  - {action: Allow, destination: {selector: app == 'db'}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: ext, labels: {role: ext}}
spec: {nets: [192.0.2.0/24]}
---
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: ext-b, namespace: b, labels: {role: ext}}
spec: {nets: [198.51.100.7]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node1-eth0, labels: {role: ext}}
spec: {node: node1, interfaceName: eth0, expectedIPs: [192.168.0.10]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node2-eth0, labels: {role: ext}}
spec: {node: node2, interfaceName: eth0, expectedIPs: [192.168.0.20]}
`

// invalidPolicy has a selector that does not parse (resource.Decode would reject
// it, an API server without CRD validation would not): namespace a fails closed
// for ingress, the valid neighbours stay.
func invalidPolicy() runtime.Object {
	order := 5.0
	return &v3.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "broken", Namespace: "a"},
		Spec:       v3.NetworkPolicySpec{Order: &order, Selector: "app == ", Ingress: []v3.Rule{{Action: v3.Allow}}},
	}
}

var sequence = []namedState{
	{name: "pods only", objects: baseObjects, want: []string{
		"endpoint a/db cali [10.0.0.2/32] tiers=[]",
		"endpoint a/web cali [10.0.0.1/32] tiers=[]",
	}},
	{name: "kubernetes policy", objects: baseObjects + k8sPolicy, want: []string{
		"endpoint a/db cali [10.0.0.2/32] tiers=[default(in:a/knp.default.db-allow eg: Deny)]",
		"endpoint a/web cali [10.0.0.1/32] tiers=[]",
		"policy default/a/knp.default.db-allow",
		"set port(all(),http) = 10.0.0.1/6/80 10.0.0.2/6/8080",
		`set sel(has(projectcalico.org/namespace) && pcns.team == "yy" && projectcalico.org/orchestrator == "k8s") = 10.0.1.1 fd00::1`,
	}},
	{name: "tiers and network sets", objects: baseObjects + k8sPolicy + v3Policies, want: []string{
		"endpoint a/db cali [10.0.0.2/32] tiers=[security(in:block-ext eg: Deny) default(in:a/knp.default.db-allow eg: Deny)]",
		"endpoint a/web cali [10.0.0.1/32] tiers=[security(in:block-ext eg: Deny) default(in: eg:a/web-egress Deny)]",
		"policy default/a/knp.default.db-allow",
		"policy default/a/web-egress",
		"policy security/block-ext",
		"set port(all(),http) = 10.0.0.1/6/80 10.0.0.2/6/8080",
		`set sel(has(projectcalico.org/namespace) && pcns.team == "yy" && projectcalico.org/orchestrator == "k8s") = 10.0.1.1 fd00::1`,
		`set sel(app == "db" && projectcalico.org/namespace == "a") = 10.0.0.2`,
		`set sel(role == "ext") = 192.0.2.0/24 192.168.0.10 192.168.0.20 198.51.100.7`,
		"endpoint node1-eth0 eth0 [192.168.0.10/32] tiers=[security(in:block-ext eg: Deny)]",
	}},
	{name: "invalid policy fails closed", objects: baseObjects + k8sPolicy + v3Policies, extra: []runtime.Object{invalidPolicy()}, want: []string{
		"endpoint a/db cali [10.0.0.2/32] tiers=[security(in:block-ext eg: Deny) default(in:a/broken,a/knp.default.db-allow eg: Deny)]",
		"endpoint a/web cali [10.0.0.1/32] tiers=[security(in:block-ext eg: Deny) default(in:a/broken eg:a/web-egress Deny)]",
		"policy default/a/broken",
		"policy default/a/knp.default.db-allow",
		"policy default/a/web-egress",
		"policy security/block-ext",
		"set port(all(),http) = 10.0.0.1/6/80 10.0.0.2/6/8080",
		`set sel(has(projectcalico.org/namespace) && pcns.team == "yy" && projectcalico.org/orchestrator == "k8s") = 10.0.1.1 fd00::1`,
		`set sel(app == "db" && projectcalico.org/namespace == "a") = 10.0.0.2`,
		`set sel(role == "ext") = 192.0.2.0/24 192.168.0.10 192.168.0.20 198.51.100.7`,
		"endpoint node1-eth0 eth0 [192.168.0.10/32] tiers=[security(in:block-ext eg: Deny)]",
	}},
	{name: "labels change", objects: strings.ReplaceAll(
		strings.Replace(baseObjects+k8sPolicy+v3Policies, "{name: b, labels: {team: yy}}", "{name: b, labels: {team: z}}", 1),
		"{name: db, namespace: a, labels: {app: db}}", "{name: db, namespace: a, labels: {app: db2}}"), want: []string{
		"endpoint a/db cali [10.0.0.2/32] tiers=[security(in:block-ext eg: Deny)]",
		"endpoint a/web cali [10.0.0.1/32] tiers=[security(in:block-ext eg: Deny) default(in: eg:a/web-egress Deny)]",
		"policy default/a/web-egress",
		"policy security/block-ext",
		`set sel(app == "db" && projectcalico.org/namespace == "a") = `,
		`set sel(role == "ext") = 192.0.2.0/24 192.168.0.10 192.168.0.20 198.51.100.7`,
		"endpoint node1-eth0 eth0 [192.168.0.10/32] tiers=[security(in:block-ext eg: Deny)]",
	}},
}

func decodeWorld(t testing.TB, name, objects string) world {
	t.Helper()
	objs, err := resource.Decode(name+".yaml", []byte(objects))
	if err != nil {
		t.Fatalf("decoding state %q: %v", name, err)
	}
	w := world{}
	for _, o := range objs {
		k, err := datastore.KeyOf(o.Obj)
		if err != nil {
			t.Fatal(err)
		}
		w[k] = o.Obj
	}
	return w
}

// transition lists the updates that turn datastore content from into to, sorted by
// key.
func transition(from, to world) []datastore.Update {
	var out []datastore.Update
	for k := range from {
		if _, ok := to[k]; !ok {
			out = append(out, datastore.Update{Key: k})
		}
	}
	for k, o := range to {
		if old, ok := from[k]; !ok || !reflect.DeepEqual(old, o) {
			out = append(out, datastore.Update{Key: k, Object: o})
		}
	}
	slices.SortFunc(out, func(a, b datastore.Update) int { return strings.Compare(a.Key.String(), b.Key.String()) })
	return out
}

// replay is one way of feeding a transition to the graph.
type replay struct {
	name  string
	split func(r *rand.Rand, ups []datastore.Update) [][]datastore.Update
}

var replays = []replay{
	{"one batch", func(_ *rand.Rand, ups []datastore.Update) [][]datastore.Update { return [][]datastore.Update{ups} }},
	{"single events", func(_ *rand.Rand, ups []datastore.Update) [][]datastore.Update { return singles(ups) }},
	{"shuffled batch", func(r *rand.Rand, ups []datastore.Update) [][]datastore.Update {
		ups = slices.Clone(ups)
		r.Shuffle(len(ups), func(i, j int) { ups[i], ups[j] = ups[j], ups[i] })
		return [][]datastore.Update{ups}
	}},
	{"shuffled single events", func(r *rand.Rand, ups []datastore.Update) [][]datastore.Update {
		ups = slices.Clone(ups)
		r.Shuffle(len(ups), func(i, j int) { ups[i], ups[j] = ups[j], ups[i] })
		return singles(ups)
	}},
}

func singles(ups []datastore.Update) [][]datastore.Update {
	out := make([][]datastore.Update, len(ups))
	for i := range ups {
		out[i] = ups[i : i+1]
	}
	return out
}

func TestStateSequences(t *testing.T) {
	worlds := make([]world, len(sequence))
	names := map[string]string{}
	for i, s := range sequence {
		worlds[i] = decodeWorld(t, s.name, s.objects)
		for _, o := range s.extra {
			k, err := datastore.KeyOf(o)
			if err != nil {
				t.Fatal(err)
			}
			worlds[i][k] = o
		}
		for id, n := range setNames(worlds[i]) {
			names[id] = n
		}
	}
	forward := []int{0, 1, 2, 3, 4}
	orders := map[string][]int{
		"forward":  forward,
		"reversed": {4, 3, 2, 1, 0},
		"jumps":    {2, 0, 4, 1, 3, 0},
	}
	for orderName, order := range orders {
		for _, rp := range replays {
			t.Run(orderName+"/"+rp.name, func(t *testing.T) {
				r := rand.New(rand.NewPCG(1, uint64(len(orderName))))
				g := New(zaptest.NewLogger(t), testNode)
				st := desired.New()
				prev := world{}
				for _, i := range order {
					for _, batch := range rp.split(r, transition(prev, worlds[i])) {
						applyOrFail(t, st, g.Apply(batch))
					}
					prev = worlds[i]
					checkState(t, sequence[i], worlds[i], st, names)
				}
				for _, batch := range rp.split(r, transition(prev, world{})) {
					applyOrFail(t, st, g.Apply(batch))
				}
				if diff := diffStates(desired.New(), st); diff != "" {
					t.Errorf("after deleting everything, state not empty (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func checkState(t *testing.T, s namedState, w world, st *desired.State, names map[string]string) {
	t.Helper()
	want := slices.Clone(s.want)
	slices.Sort(want)
	if diff := cmp.Diff(want, summary(st, names)); diff != "" {
		t.Errorf("state %q: summary (-want +got):\n%s", s.name, diff)
	}
	if diff := diffStates(referenceState(testNode, w), st); diff != "" {
		t.Errorf("state %q: differs from reference (-reference +graph):\n%s", s.name, diff)
	}
}
