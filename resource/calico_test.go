package resource

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	v3 "github.com/palisadenet/palisade/api/v3"
)

func TestDecodeCalicoKinds(t *testing.T) {
	objs, err := LoadPaths([]string{
		"../../shared/examples/allow-tcp-6379.yaml",
		"../../shared/examples/ippool-crd-v1.yaml",
	}, nil)
	if err != nil {
		t.Skipf("shared examples unavailable: %v", err)
	}
	want := []summary{
		{"../../shared/examples/allow-tcp-6379.yaml: document 1 (NetworkPolicy production/allow-tcp-6379)", "projectcalico.org/v3/NetworkPolicy"},
		{"../../shared/examples/ippool-crd-v1.yaml: document 1 (IPPool pool3)", "projectcalico.org/v3/IPPool"},
	}
	if diff := cmp.Diff(want, summarize(objs)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := objs[1].Source.APIVersion; got != "crd.projectcalico.org/v1" {
		t.Errorf("Location.APIVersion = %q, want the legacy group as written", got)
	}
	pool := objs[1].Obj.(*v3.IPPool)
	if pool.Spec.CIDR != "10.245.3.0/24" {
		t.Errorf("legacy IPPool spec lost: %+v", pool.Spec)
	}
}

func TestEveryCalicoKindInBothGroups(t *testing.T) {
	for kind := range v3.AllKinds() {
		for _, av := range []string{"projectcalico.org/v3", "crd.projectcalico.org/v1"} {
			doc := "apiVersion: " + av + "\nkind: " + kind + "\nmetadata: {name: obj, namespace: ns}\n"
			objs, err := Decode("k.yaml", []byte(doc))
			if err != nil {
				t.Errorf("%s %s: %v", av, kind, err)
				continue
			}
			gvk := objs[0].Obj.GetObjectKind().GroupVersionKind()
			if gvk.Group != CalicoGroup || gvk.Version != "v3" || gvk.Kind != kind {
				t.Errorf("%s %s decoded as %v", av, kind, gvk)
			}
		}
	}
}

func TestDecodePolicyValidation(t *testing.T) {
	tests := []struct{ name, in, want string }{{
		name: "kubernetes port out of range",
		in: `apiVersion: v1
kind: Namespace
metadata: {name: production}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: production}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 80}, {port: 70000}]
`,
		want: "policies.yaml: document 2 (NetworkPolicy production/web): spec.ingress[0].ports[1].port: ",
	}, {
		name: "kubernetes bad label selector",
		in: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: production}
spec:
  podSelector: {matchExpressions: [{key: a, operator: Within}]}
`,
		want: "policies.yaml: document 1 (NetworkPolicy production/web): spec.podSelector.matchExpressions[0]",
	}, {
		name: "calico port out of range (the documented example)",
		in: `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: ok, namespace: production}
spec:
  selector: all()
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: allow-tcp-6379
  namespace: production
spec:
  selector: role == 'database'
  ingress:
  - action: Allow
    protocol: TCP
    destination:
      ports: [70000]
`,
		want: "policies.yaml: document 2 (NetworkPolicy production/allow-tcp-6379): spec.ingress[0].destination.ports[0]: port 70000 out of range",
	}, {
		name: "calico bad selector in a legacy-group GlobalNetworkPolicy",
		in: `apiVersion: crd.projectcalico.org/v1
kind: GlobalNetworkPolicy
metadata: {name: g}
spec:
  selector: role == 'x' &&
`,
		want: "policies.yaml: document 1 (GlobalNetworkPolicy g): spec.selector: ",
	}, {
		name: "calico bad action",
		in: `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: g}
spec:
  ingress: [{action: Allwo}]
`,
		want: "policies.yaml: document 1 (GlobalNetworkPolicy g): spec.ingress[0].action: ",
	}, {
		name: "calico bad network set CIDR",
		in: `apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: s}
spec: {nets: [10.0.0.0/33]}
`,
		want: "policies.yaml: document 1 (GlobalNetworkSet s): spec.nets[0]: ",
	}, {
		name: "calico unknown rule field",
		in: `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: p, namespace: production}
spec:
  ingress:
  - action: Allow
    destination: {prots: [80]}
`,
		want: "policies.yaml: document 1 (NetworkPolicy production/p): spec.ingress[0].destination.prots: unknown field",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode("policies.yaml", []byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
