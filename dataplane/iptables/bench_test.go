package iptables

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/backendtest"
	"github.com/palisadenet/palisade/internal/netnstest"
)

// scale is the target, the same as the nftables backend's benchmarks: 10,000
// policies on 250 local endpoints, 100,000 set members (1,000 selector sets of 100).
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

// BenchmarkRenderFullScale renders the whole ruleset (both families, all sets) at the
// issue's scale.
func BenchmarkRenderFullScale(b *testing.B) {
	s := newState().add(scaleObjects()...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(s, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderTextFullScale prints the full-scale ruleset as restore input.
func BenchmarkRenderTextFullScale(b *testing.B) {
	rs, err := Render(newState().add(scaleObjects()...), Options{})
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
	if err := dp.Apply(backendtest.UpdatesOf(scaleObjects()...)); err != nil {
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
			if last := dp.LastBatch(); last.ChainsWritten != 0 || last.Commands != 1 {
				b.Fatalf("set-member change wrote more than one set entry: %+v", last)
			}
		}
		reportP99(b, lat)
	})
}

// BenchmarkApplyNewEndpoint20Policies programs one new endpoint using 20 existing
// policies at full scale (its two chains and the dispatch chains, per family), then
// removes it again (not timed).
func BenchmarkApplyNewEndpoint20Policies(b *testing.B) {
	benchModes(b, func(b *testing.B, mode Mode) {
		dp := programmedScaleNode(b, mode)
		var ids []dataplane.PolicyID
		for p := 0; p < 20; p++ {
			ids = append(ids, pid("default", fmt.Sprintf("ns%d/policy-%d", p%50, p)))
		}
		var lat []time.Duration
		b.ResetTimer()
		for b.Loop() {
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
	})
}

// BenchmarkApplyPolicyChange edits one policy at full scale: its chain is rewritten
// in both families, nothing else.
func BenchmarkApplyPolicyChange(b *testing.B) {
	benchModes(b, func(b *testing.B, mode Mode) {
		dp := programmedScaleNode(b, mode)
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
	})
}

// BenchmarkColdProgramFullScale programs the full-scale state into an empty
// namespace: ipset restore, then iptables-restore and ip6tables-restore.
func BenchmarkColdProgramFullScale(b *testing.B) {
	benchModes(b, func(b *testing.B, mode Mode) {
		objs := backendtest.UpdatesOf(scaleObjects()...)
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

func reportP99(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
