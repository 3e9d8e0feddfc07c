package iptables

import (
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/palisadenet/palisade/dataplane/backendtest"
	"github.com/palisadenet/palisade/dataplane/desired"
	"github.com/palisadenet/palisade/internal/netnstest"
)

// BenchmarkRenderFullScale renders the whole ruleset (both families, all sets) at the
// issue's scale.
func BenchmarkRenderFullScale(b *testing.B) {
	s := desired.NewObjects().Add(backendtest.ScaleObjects()...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(s, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderTextFullScale prints the full-scale ruleset as restore input.
func BenchmarkRenderTextFullScale(b *testing.B) {
	rs, err := Render(desired.NewObjects().Add(backendtest.ScaleObjects()...), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, fam := range Families {
			for _, c := range rs.Filter(fam) {
				c.lines, c.hashes = nil, nil // measure hashing too
			}
		}
		_ = SetRestore(rs.Sets) + RestoreText(rs.Filter4, true) + RestoreText(rs.Filter6, true)
	}
}

// benchModes runs fn for each installed backend.
func benchModes(b *testing.B, fn func(b *testing.B, mode Mode)) {
	netnstest.Require(b, "ipset")
	for _, mode := range installedModes(b) {
		b.Run(string(mode), func(b *testing.B) { fn(b, mode) })
	}
}

// programmedScaleNode programs the full-scale state into a fresh namespace and
// reports how long that cold programming took (metric cold-ms).
func programmedScaleNode(b *testing.B, mode Mode) *Dataplane {
	ns := netnstest.New(b, "bench")
	dp, err := New(zap.NewNop(), WithNetNS(ns.Path()), WithMode(mode))
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := dp.Apply(backendtest.UpdatesOf(backendtest.ScaleObjects()...)); err != nil {
		b.Fatalf("cold programming: %v", err)
	}
	cold := time.Since(start)
	b.Cleanup(func() { b.ReportMetric(float64(cold.Milliseconds()), "cold-ms") })
	return dp
}

// BenchmarkApplySetMemberChange adds or removes one member of a 100-member set at
// full scale: one `ipset restore` with one entry, no iptables write.
func BenchmarkApplySetMemberChange(b *testing.B) {
	benchModes(b, func(b *testing.B, mode Mode) {
		dp := programmedScaleNode(b, mode)
		backendtest.BenchSetMemberChange(b, dp.Apply, func(b *testing.B) {
			if last := dp.LastBatch(); last.ChainsWritten != 0 || last.Commands != 1 {
				b.Fatalf("set-member change wrote more than one set entry: %+v", last)
			}
		})
	})
}

// BenchmarkApplyNewEndpoint20Policies programs one new endpoint using 20 existing
// policies at full scale (its two chains and the dispatch chains, per family), then
// removes it again (not timed).
func BenchmarkApplyNewEndpoint20Policies(b *testing.B) {
	benchModes(b, func(b *testing.B, mode Mode) {
		backendtest.BenchNewEndpoint20Policies(b, programmedScaleNode(b, mode).Apply)
	})
}

// BenchmarkApplyPolicyChange edits one policy at full scale: its chain is rewritten
// in both families, nothing else.
func BenchmarkApplyPolicyChange(b *testing.B) {
	benchModes(b, func(b *testing.B, mode Mode) {
		backendtest.BenchPolicyChange(b, programmedScaleNode(b, mode).Apply)
	})
}

// BenchmarkColdProgramFullScale programs the full-scale state into an empty
// namespace: ipset restore, then iptables-restore and ip6tables-restore.
func BenchmarkColdProgramFullScale(b *testing.B) {
	benchModes(b, func(b *testing.B, mode Mode) {
		objs := backendtest.UpdatesOf(backendtest.ScaleObjects()...)
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			ns := netnstest.New(b, "cold")
			dp, err := New(zap.NewNop(), WithNetNS(ns.Path()), WithMode(mode))
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := dp.Apply(objs); err != nil {
				b.Fatal(err)
			}
		}
	})
}
