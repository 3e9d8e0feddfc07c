package nftables

import (
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/palisadenet/palisade/dataplane/backendtest"
	"github.com/palisadenet/palisade/internal/netnstest"
)

func stateOf(objs []any) *State {
	return newState().Add(objs...)
}

// BenchmarkRenderFullScale renders the whole table at the scale.
func BenchmarkRenderFullScale(b *testing.B) {
	s := stateOf(backendtest.ScaleObjects())
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Render(s, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderTextFullScale prints the full-scale table in nft syntax.
func BenchmarkRenderTextFullScale(b *testing.B) {
	t, err := Render(stateOf(backendtest.ScaleObjects()), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = t.String()
	}
}

// programmedScaleNode programs the full-scale state into a fresh node namespace and
// reports how long that cold programming took.
func programmedScaleNode(b *testing.B) *Dataplane {
	netnstest.Require(b, "nft")
	ns := netnstest.New(b, "bench")
	dp, err := New(zap.NewNop(), WithNetNSFd(ns.Open(b)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = dp.Close() })
	start := time.Now()
	if err := dp.Apply(updatesOf(backendtest.ScaleObjects()...)); err != nil {
		b.Fatalf("cold programming: %v", err)
	}
	cold := time.Since(start)
	b.Cleanup(func() { b.ReportMetric(float64(cold.Milliseconds()), "cold-ms") })
	return dp
}

// BenchmarkApplySetMemberChange adds or removes one member of a 100-member set at
// full scale: render, diff and one netlink transaction (element ops only).
func BenchmarkApplySetMemberChange(b *testing.B) {
	dp := programmedScaleNode(b)
	backendtest.BenchSetMemberChange(b, dp.Apply, func(b *testing.B) {
		if ops := dp.LastBatch(); ops.NonElement() != 0 {
			b.Fatalf("set-member change sent non-element ops: %+v", ops)
		}
	})
}

// BenchmarkApplyNewEndpoint20Policies programs one new endpoint using 20 existing
// policies at full scale (chains and map entries), then removes it again.
func BenchmarkApplyNewEndpoint20Policies(b *testing.B) {
	backendtest.BenchNewEndpoint20Policies(b, programmedScaleNode(b).Apply)
}

// BenchmarkColdProgramFullScale programs the full-scale state into an empty
// namespace (render, diff, one transaction).
func BenchmarkColdProgramFullScale(b *testing.B) {
	netnstest.Require(b, "nft")
	objs := updatesOf(backendtest.ScaleObjects()...)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		ns := netnstest.New(b, "cold")
		dp, err := New(zap.NewNop(), WithNetNSFd(ns.Open(b)))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := dp.Apply(objs); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = dp.Close()
		b.StartTimer()
	}
}

// BenchmarkApplyPolicyChange edits one policy (used by one endpoint) at full scale:
// its two chains are flushed and refilled, nothing else is sent.
func BenchmarkApplyPolicyChange(b *testing.B) {
	backendtest.BenchPolicyChange(b, programmedScaleNode(b).Apply)
}

// BenchmarkResyncFullScale is one Resync of the full-scale table with no drift: the
// table, chain and set lists, the base chains and maps, and a budget's worth of other
// chains' rules and sets' elements read back and compared ("all": every chain and set
// each call).
func BenchmarkResyncFullScale(b *testing.B) {
	for _, bc := range []struct {
		name   string
		budget int
	}{{"budget-default", DefaultResyncBudget}, {"all", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			dp := programmedScaleNode(b)
			dp.resyncBudget = bc.budget
			for b.Loop() {
				if err := dp.Resync(); err != nil {
					b.Fatal(err)
				}
			}
			if st := dp.Stats(); st.Repairs != 0 {
				b.Fatalf("resync of an untouched table repaired it: %+v", st)
			}
		})
	}
}
