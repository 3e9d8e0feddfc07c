package resource

import (
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode: it must never panic, and every error it
// returns must be located (an *Error naming the input).
func FuzzDecode(f *testing.F) {
	f.Add([]byte(mixedYAML))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: a}}\n"))
	f.Add([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},"spec":{"containers":[{"name":"c"}]}}`))
	f.Add([]byte("apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\nspec:\n  selector: a == 'b'\n  ingress:\n  - action: Allow\n    destination: {ports: [80, '1:2', http]}\n"))
	f.Add([]byte("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: {matchLabels: {a: b}}\n  ingress: [{ports: [{port: 80, endPort: 90}]}]\n"))
	f.Add([]byte("---\n- [\n"))
	f.Add([]byte("&a [*a, *a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := Decode("fuzz.yaml", data)
		for _, o := range objs {
			if o.Obj == nil {
				t.Fatalf("nil object at %s", o.Source)
			}
		}
		if err == nil {
			return
		}
		for _, e := range unjoin(err) {
			var located *Error
			if !errors.As(e, &located) || located.Source.File != "fuzz.yaml" {
				t.Fatalf("error without location: %v", e)
			}
		}
	})
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}
