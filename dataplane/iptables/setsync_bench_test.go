package iptables

import (
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/palisadenet/palisade/dataplane/backendtest"
)

// BenchmarkResyncSetCompareFullScale: the pure part of a resync's set check at the
// issue's scale (1,000 sets, 100,000 members): parse `ipset save` output as ipset
// prints it (host entries without /32) and compare every set with the desired state.
func BenchmarkResyncSetCompareFullScale(b *testing.B) {
	dp, err := New(zap.NewNop(), withRunner(&fakeRunner{}))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := dp.state.FoldAll(backendtest.UpdatesOf(backendtest.ScaleObjects()...)); err != nil {
		b.Fatal(err)
	}
	var save strings.Builder
	members := 0
	for id, ms := range dp.state.Sets {
		for _, s := range RenderSet(ms.ToIPSet(id)) {
			save.WriteString(createLine(s.Name, s.Type, s.Family) + "\n")
			for _, e := range s.Entries {
				save.WriteString("add " + s.Name + " " + strings.TrimSuffix(e, "/32") + "\n")
				members++
			}
		}
	}
	out := save.String()
	b.ReportMetric(float64(members), "entries")
	b.ReportAllocs()
	for b.Loop() {
		kv := &kernelView{}
		kv.sets, kv.members = parseSetSave(out)
		if ids, why := dp.staleSets(kv); len(ids) != 0 {
			b.Fatalf("equal contents reported stale: %s", why)
		}
	}
}
