package v3

import (
	"encoding/json"
	"os"
	"testing"
)

func BenchmarkDecodeNetworkPolicy(b *testing.B) {
	raw, err := os.ReadFile("testdata/networkpolicy.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeNetworkPolicy(b *testing.B) {
	raw, err := os.ReadFile("testdata/networkpolicy.yaml")
	if err != nil {
		b.Fatal(err)
	}
	obj, err := Decode(raw)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(obj); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPortRange(b *testing.B) {
	ports := []Port{PortFromNumber(80), PortFromString("8000:8080"), PortFromString("http")}
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range ports {
			if _, _, _, err := p.Range(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
