package client

import (
	"context"
	"fmt"
	"testing"

	v3 "github.com/palisadenet/palisade/api/v3"
)

func benchPolicy(i int) *v3.NetworkPolicy {
	order := float64(i)
	np := &v3.NetworkPolicy{Spec: v3.NetworkPolicySpec{
		Order: &order, Selector: fmt.Sprintf("app == 'a%d'", i), Types: []v3.PolicyType{"Ingress"},
		Ingress: []v3.Rule{{Action: "Allow", Protocol: &v3.Protocol{Str: "TCP", IsStr: true},
			Destination: v3.EntityRule{Ports: []v3.Port{v3.PortFromNumber(uint16(1000 + i))}}}},
	}}
	np.Name, np.Namespace = fmt.Sprintf("p%d", i), "prod"
	np.SetGroupVersionKind(v3.SchemeGroupVersion.WithKind(v3.KindNetworkPolicy))
	return np
}

// BenchmarkValidateNetworkPolicy is the CRD schema + CEL check every written object
// goes through.
func BenchmarkValidateNetworkPolicy(b *testing.B) {
	np := benchPolicy(1)
	if errs, err := Validate(np); err != nil || len(errs) > 0 {
		b.Fatal(errs, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(np); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFileGet1000 reads one object from a directory of 1,000 one-object files
// (every Get stats the directory's files; unchanged files are not re-read).
func BenchmarkFileGet1000(b *testing.B) {
	f, err := NewFile(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := range 1000 {
		if _, err := f.Create(ctx, benchPolicy(i)); err != nil {
			b.Fatal(err)
		}
	}
	kind, _ := LookupKind("networkpolicy")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Get(ctx, kind, "prod", "p500"); err != nil {
			b.Fatal(err)
		}
	}
}
