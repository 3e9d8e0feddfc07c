package offline

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/policy/eval"
	"github.com/palisadenet/palisade/resource"
)

func decode(t *testing.T, yaml string) []resource.Object {
	t.Helper()
	objs, err := resource.Decode("w.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func TestBuildWorldPods(t *testing.T) {
	objs := decode(t, `apiVersion: v1
kind: Pod
metadata: {name: dual, namespace: ns1, labels: {app: web}}
spec:
  nodeName: node1
  containers:
  - name: a
    ports: [{name: http, containerPort: 80}, {name: dns, containerPort: 53, protocol: UDP}]
  - name: b
    ports: [{containerPort: 9090, protocol: SCTP}]
status:
  podIP: 10.0.0.1
  podIPs: [{ip: 10.0.0.1}, {ip: "fd00::1"}]
---
apiVersion: v1
kind: Pod
metadata: {name: pending, namespace: ns1}
spec: {containers: [{name: a}]}
---
apiVersion: v1
kind: Pod
metadata: {name: old, namespace: ns1}
spec: {serviceAccountName: robot, containers: [{name: a}]}
status: {podIP: "::ffff:10.0.0.2"}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: ignored}
spec: {cidr: 10.0.0.0/16}
`)
	w, warnings, err := BuildWorld(objs)
	if err != nil {
		t.Fatal(err)
	}
	want := []eval.Pod{{
		Namespace: "ns1", Name: "dual", Labels: map[string]string{"app": "web"},
		IPs: []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("fd00::1")},
		Ports: []eval.ContainerPort{
			{Name: "http", Protocol: policy.ProtocolTCP, Port: 80},
			{Name: "dns", Protocol: policy.ProtocolUDP, Port: 53},
			{Protocol: policy.ProtocolSCTP, Port: 9090},
		},
		ServiceAccount: DefaultServiceAccount, Node: "node1",
	}, {
		Namespace: "ns1", Name: "old",
		IPs:            []netip.Addr{netip.MustParseAddr("10.0.0.2")},
		ServiceAccount: "robot",
	}}
	if diff := cmp.Diff(want, w.Pods, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("pods (-want +got):\n%s", diff)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "w.yaml: document 2 (Pod ns1/pending): pod has no status.podIP; skipped") {
		t.Errorf("warnings = %q, want one about the pending pod", warnings)
	}
}

func TestBuildWorldPolicies(t *testing.T) {
	objs := decode(t, `apiVersion: v1
kind: Namespace
metadata: {name: b}
---
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {k: v}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: robot, namespace: a, labels: {role: bot}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: k, namespace: a}
spec: {podSelector: {}}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: k, namespace: a}
spec: {selector: all()}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: g}
spec: {selector: all()}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: t}
spec: {order: 5}
---
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: s, namespace: a}
spec: {nets: [10.1.0.0/16]}
---
apiVersion: crd.projectcalico.org/v1
kind: GlobalNetworkSet
metadata: {name: s}
spec: {nets: [10.2.0.0/16]}
`)
	w, _, err := BuildWorld(objs)
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{w.Namespaces[0].Name, w.Namespaces[1].Name}; got[0] != "a" || got[1] != "b" {
		t.Errorf("namespaces not sorted: %v", got)
	}
	var keys []string
	for _, p := range w.Policies {
		keys = append(keys, p.Kind.String()+" "+p.Key())
	}
	wantKeys := []string{"KubernetesNetworkPolicy a/knp.default.k", "NetworkPolicy a/k", "GlobalNetworkPolicy g"}
	if diff := cmp.Diff(wantKeys, keys); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
	if len(w.Tiers) != 1 || w.Tiers[0].Name != "t" || len(w.NetworkSets) != 2 || len(w.ServiceAccounts) != 1 {
		t.Errorf("tiers %v, sets %v, service accounts %v", w.Tiers, w.NetworkSets, w.ServiceAccounts)
	}
}

func TestBuildWorldDuplicates(t *testing.T) {
	ns := "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n"
	objs := decode(t, ns+"---\n"+ns)
	_, _, err := BuildWorld(objs)
	want := "w.yaml: document 2 (Namespace a): duplicate Namespace a (first defined at w.yaml: document 1 (Namespace a))"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestMatrixJSONEmpty(t *testing.T) {
	m, err := ComputeMatrix(&eval.World{}, policy.ProtocolSCTP, 9)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(m.JSON()), `{"port":9,"protocol":"SCTP","pods":[],"allowed":{}}`+"\n"; got != want {
		t.Errorf("JSON = %q, want %q", got, want)
	}
}
