package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFixIntOrString(t *testing.T) {
	node := map[string]any{"properties": map[string]any{"port": map[string]any{
		"type": "string", "x-kubernetes-int-or-string": true, "maxLength": int64(32),
		"x-kubernetes-validations": []any{
			map[string]any{"rule": "type(self) != int || (self >= 1 && self <= 65535)", "message": "m"},
			map[string]any{"rule": "self != 'x'"},
		},
	}}}
	fixIntOrString(node)
	want := map[string]any{
		"anyOf":                      []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}},
		"x-kubernetes-int-or-string": true, "maxLength": int64(32),
		"minimum": int64(1), "maximum": int64(65535),
		"x-kubernetes-validations": []any{map[string]any{"rule": "self != 'x'"}},
	}
	if diff := cmp.Diff(want, node["properties"].(map[string]any)["port"]); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestToLegacy(t *testing.T) {
	crd := map[string]any{
		"metadata": map[string]any{"name": "ippools.projectcalico.org"},
		"spec": map[string]any{
			"group":    "projectcalico.org",
			"names":    map[string]any{"plural": "ippools"},
			"versions": []any{map[string]any{"name": "v3", "served": true}},
		},
	}
	got, err := toLegacy(crd, "ippools")
	if err != nil {
		t.Fatal(err)
	}
	if got["metadata"].(map[string]any)["name"] != "ippools.crd.projectcalico.org" ||
		got["spec"].(map[string]any)["group"] != "crd.projectcalico.org" ||
		got["spec"].(map[string]any)["versions"].([]any)[0].(map[string]any)["name"] != "v1" {
		t.Errorf("legacy CRD = %v", got)
	}
	if crd["spec"].(map[string]any)["group"] != "projectcalico.org" {
		t.Error("toLegacy modified its input")
	}
}
