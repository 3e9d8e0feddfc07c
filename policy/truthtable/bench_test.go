package truthtable

import (
	"os"
	"slices"
	"testing"

	"github.com/palisadenet/palisade/ctl/offline"
	"github.com/palisadenet/palisade/resource"
)

// BenchmarkLoadWorld measures decoding testdata/world.yaml (3 namespaces, 9 pods).
func BenchmarkLoadWorld(b *testing.B) {
	data, err := os.ReadFile(worldFile)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := resource.Decode(worldFile, data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatrix measures one 9×9 matrix (81 evaluations) of a tiered scenario.
func BenchmarkMatrix(b *testing.B) {
	all := calicoTierScenarios
	i := slices.IndexFunc(all, func(sc scenario) bool { return sc.name == "tier Pass then default tier" })
	base, err := resource.LoadPaths([]string{worldFile}, nil)
	if err != nil || i < 0 {
		b.Fatal(err, i)
	}
	extra, err := resource.Decode("bench.yaml", []byte(all[i].yaml))
	if err != nil {
		b.Fatal(err)
	}
	w, _, err := offline.BuildWorld(append(base, extra...))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := offline.ComputeMatrix(w, TCP, 80); err != nil {
			b.Fatal(err)
		}
	}
}
