package nftables

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/internal/netnstest"
)

// scale is the target: 10,000 policies on 250 local endpoints, 100,000 set
// members (1,000 selector sets of 100 pod addresses each).
const (
	scalePolicies  = 10000
	scaleEndpoints = 250
	scaleSets      = 1000
	scaleSetSize   = 100
)

func scaleObjects() []any {
	var objs []any
	for s := 0; s < scaleSets; s++ {
		set := &dataplane.IPSet{ID: fmt.Sprintf("sel-%d", s), Kind: dataplane.SetKindNets}
		for m := 0; m < scaleSetSize; m++ {
			i := s*scaleSetSize + m
			addr := netip.AddrFrom4([4]byte{10, byte(64 + i>>16), byte(i >> 8), byte(i)})
			set.Members = append(set.Members, dataplane.SetMember{Prefix: netip.PrefixFrom(addr, 32)})
		}
		objs = append(objs, set)
	}
	ids := make([]dataplane.PolicyID, scalePolicies)
	for p := 0; p < scalePolicies; p++ {
		ids[p] = pid("default", fmt.Sprintf("ns%d/policy-%d", p%50, p))
		objs = append(objs, &dataplane.Policy{ID: ids[p],
			Inbound: []dataplane.Rule{{ID: "in", Action: dataplane.ActionAllow, Protocol: u8(6),
				Source:      dataplane.EndpointMatch{SetIDs: []string{fmt.Sprintf("sel-%d", p%scaleSets)}},
				Destination: dataplane.EndpointMatch{Ports: []dataplane.PortRange{{First: uint16(1000 + p%1000), Last: uint16(1000 + p%1000)}}}}},
			Outbound: []dataplane.Rule{{ID: "out", Action: dataplane.ActionAllow,
				Destination: dataplane.EndpointMatch{SetIDs: []string{fmt.Sprintf("sel-%d", (p+1)%scaleSets)}}}},
		})
	}
	objs = append(objs, allowProfile("ns"))
	perEndpoint := scalePolicies / scaleEndpoints
	for e := 0; e < scaleEndpoints; e++ {
		mine := ids[e*perEndpoint : (e+1)*perEndpoint]
		objs = append(objs, workload(fmt.Sprintf("ns/pod-%d", e), fmt.Sprintf("cali%011x", e),
			[]dataplane.TierPolicies{{Name: "default", IngressPolicies: mine, EgressPolicies: mine, DefaultAction: dataplane.ActionDeny}}))
	}
	return objs
}

func stateOf(objs []any) *State {
	return newState().add(objs...)
}

// BenchmarkRenderFullScale renders the whole table at the scale.
func BenchmarkRenderFullScale(b *testing.B) {
	s := stateOf(scaleObjects())
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
	t, err := Render(stateOf(scaleObjects()), Options{})
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
	if err := dp.Apply(updatesOf(scaleObjects()...)); err != nil {
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
	member := dataplane.SetMember{Prefix: netip.MustParsePrefix("10.200.0.1/32")}
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		delta := &dataplane.SetDelta{ID: "sel-7"}
		if i%2 == 0 {
			delta.Added = []dataplane.SetMember{member}
		} else {
			delta.Removed = []dataplane.SetMember{member}
		}
		start := time.Now()
		if err := dp.Apply([]dataplane.Update{{SetDeltaUpdate: delta}}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		if ops := dp.LastBatch(); ops.NonElement() != 0 {
			b.Fatalf("set-member change sent non-element ops: %+v", ops)
		}
	}
	reportP99(b, lat)
}

// BenchmarkApplyNewEndpoint20Policies programs one new endpoint using 20 existing
// policies at full scale (chains and map entries), then removes it again.
func BenchmarkApplyNewEndpoint20Policies(b *testing.B) {
	dp := programmedScaleNode(b)
	var ids []dataplane.PolicyID
	for p := 0; p < 20; p++ {
		ids = append(ids, pid("default", fmt.Sprintf("ns%d/policy-%d", p%50, p)))
	}
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ep := workload("ns/new", "calinew00000000", []dataplane.TierPolicies{{Name: "default",
			IngressPolicies: ids, EgressPolicies: slices.Clone(ids), DefaultAction: dataplane.ActionDeny}})
		start := time.Now()
		if err := dp.Apply([]dataplane.Update{{EndpointUpdate: ep}}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		b.StopTimer()
		if err := dp.Apply([]dataplane.Update{{EndpointRemove: "ns/new"}}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	reportP99(b, lat)
}

func reportP99(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkColdProgramFullScale programs the full-scale state into an empty
// namespace (render, diff, one transaction).
func BenchmarkColdProgramFullScale(b *testing.B) {
	netnstest.Require(b, "nft")
	objs := updatesOf(scaleObjects()...)
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
	dp := programmedScaleNode(b)
	id := pid("default", "ns7/policy-7")
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := &dataplane.Policy{ID: id, Inbound: []dataplane.Rule{{ID: "in", Action: dataplane.ActionAllow, Protocol: u8(6),
			Destination: dataplane.EndpointMatch{Ports: []dataplane.PortRange{{First: uint16(2000 + i%2), Last: uint16(2000 + i%2)}}}}}}
		start := time.Now()
		if err := dp.Apply([]dataplane.Update{{PolicyUpdate: p}}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	reportP99(b, lat)
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
