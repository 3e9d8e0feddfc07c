package v3

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestDecodeTypedValues(t *testing.T) {
	raw, err := os.ReadFile("testdata/examples/allow-tcp-6379.yaml")
	if err != nil {
		t.Fatal(err)
	}
	obj, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	np, ok := obj.(*NetworkPolicy)
	if !ok {
		t.Fatalf("got %T, want *NetworkPolicy", obj)
	}
	in := np.Spec.Ingress[0]
	if in.Action != Allow || in.Protocol == nil || in.Protocol.String() != "TCP" {
		t.Errorf("ingress[0] = %+v, want Allow TCP", in)
	}
	if n, err := in.Protocol.Number(); err != nil || n != 6 {
		t.Errorf("TCP number = %d, %v; want 6", n, err)
	}
	if min, max, name, err := in.Destination.Ports[0].Range(); err != nil || min != 6379 || max != 6379 || name != "" {
		t.Errorf("port 6379 range = %d %d %q %v", min, max, name, err)
	}
	if got := in.Metadata.Annotations["from"]; got != "frontend" {
		t.Errorf("rule annotation from = %q, want frontend", got)
	}
	if np.Namespace != "production" || np.Spec.Selector != "role == 'database'" {
		t.Errorf("metadata/selector = %s %q", np.Namespace, np.Spec.Selector)
	}
	if diff := cmp.Diff([]PolicyType{PolicyTypeIngress, PolicyTypeEgress}, np.Spec.Types); diff != "" {
		t.Errorf("types: %s", diff)
	}
}

func TestDecodeStrict(t *testing.T) {
	cases := map[string]string{
		"unknown field": "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec:\n  cidr: 10.0.0.0/16\n  natOutgoin: true\n",
		"wrong case":    "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec:\n  CIDR: 10.0.0.0/16\n",
		"duplicate":     "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec:\n  cidr: 10.0.0.0/16\n  cidr: 10.1.0.0/16\n",
		"rule unknown":  "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec:\n  ingress:\n  - action: Allow\n    sauce: hot\n",
		"port float":    "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  ingress:\n  - action: Allow\n    destination:\n      ports: [80.5]\n",
		"protocol bool": "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  ingress:\n  - action: Allow\n    protocol: true\n",
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			if obj, err := Decode([]byte(doc)); err == nil {
				t.Errorf("accepted: %+v", obj)
			}
		})
	}
}

func TestDecodeNotCalico(t *testing.T) {
	for _, doc := range []string{
		"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n",
		"apiVersion: projectcalico.org/v3\nkind: Profile\nmetadata: {name: p}\n",
	} {
		if _, err := Decode([]byte(doc)); !errors.Is(err, ErrNotCalico) {
			t.Errorf("Decode(%q) error = %v, want ErrNotCalico", strings.SplitN(doc, "\n", 3)[1], err)
		}
	}
}

func TestDecodeAllSkipsOtherGroups(t *testing.T) {
	stream := "# header\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n" +
		"apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t}\nspec: {order: 5}\n---\n# only a comment\n"
	objs, err := DecodeAll([]byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].(*Tier).Name != "t" || *objs[0].(*Tier).Spec.Order != 5 {
		t.Fatalf("DecodeAll = %+v, want one Tier t order 5", objs)
	}
}

func TestFromLegacy(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "crd.projectcalico.org/v1",
		"kind":       "GlobalNetworkPolicy",
		"metadata":   map[string]any{"name": "default.allow-dns", "resourceVersion": "42"},
		"spec": map[string]any{
			"tier": "default", "order": int64(1000), "selector": "all()",
			"egress": []any{map[string]any{"action": "Allow", "protocol": "UDP",
				"destination": map[string]any{"ports": []any{int64(53)}}}},
		},
	}}
	obj, err := FromLegacy(u)
	if err != nil {
		t.Fatal(err)
	}
	gnp := obj.(*GlobalNetworkPolicy)
	if gnp.APIVersion != "projectcalico.org/v3" || gnp.Name != "allow-dns" || gnp.ResourceVersion != "42" {
		t.Errorf("meta = %s %s rv %s; want projectcalico.org/v3 allow-dns rv 42", gnp.APIVersion, gnp.Name, gnp.ResourceVersion)
	}
	if *gnp.Spec.Order != 1000 || gnp.Spec.Egress[0].Destination.Ports[0].String() != "53" {
		t.Errorf("spec = %+v", gnp.Spec)
	}
	// A policy in another tier keeps its name; an object of the v3 group is refused.
	u.Object["spec"].(map[string]any)["tier"] = "security"
	u.SetName("security.allow-dns")
	if obj, err := FromLegacy(u); err != nil || obj.(*GlobalNetworkPolicy).Name != "security.allow-dns" {
		t.Errorf("tiered policy: %v %v", obj, err)
	}
	// Fields Palisade does not model (newer Calico settings) are ignored, not fatal.
	u.Object["spec"].(map[string]any)["stagedAction"] = "Set"
	if _, err := FromLegacy(u); err != nil {
		t.Errorf("unknown legacy field: %v", err)
	}
	// But a known field of the wrong type is still an error.
	u.Object["spec"].(map[string]any)["order"] = "first"
	if _, err := FromLegacy(u); err == nil {
		t.Error("FromLegacy accepted order: first")
	}
	u.SetAPIVersion("projectcalico.org/v3")
	if _, err := FromLegacy(u); err == nil {
		t.Error("FromLegacy accepted a projectcalico.org/v3 object")
	}
}
