package backendtest

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/palisadenet/palisade/dataplane"
)

// The target scale, shared by both backends' benchmarks: 10,000 policies on
// 250 local endpoints, 100,000 set members (1,000 selector sets of 100 pod addresses).
const (
	ScalePolicies  = 10000
	ScaleEndpoints = 250
	ScaleSets      = 1000
	ScaleSetSize   = 100
)

// ScaleObjects is the desired state at the target scale: sets sel-N, policies
// "nsN/policy-M" in tier default (each using two sets and a port), profile kns.ns,
// and endpoints ns/pod-N with 40 policies each in both directions.
func ScaleObjects() []any {
	var objs []any
	for s := 0; s < ScaleSets; s++ {
		set := &dataplane.IPSet{ID: fmt.Sprintf("sel-%d", s), Kind: dataplane.SetKindNets}
		for m := 0; m < ScaleSetSize; m++ {
			i := s*ScaleSetSize + m
			addr := netip.AddrFrom4([4]byte{10, byte(64 + i>>16), byte(i >> 8), byte(i)})
			set.Members = append(set.Members, dataplane.SetMember{Prefix: netip.PrefixFrom(addr, 32)})
		}
		objs = append(objs, set)
	}
	ids := make([]dataplane.PolicyID, ScalePolicies)
	for p := 0; p < ScalePolicies; p++ {
		ids[p] = PID("default", fmt.Sprintf("ns%d/policy-%d", p%50, p))
		objs = append(objs, &dataplane.Policy{ID: ids[p],
			Inbound: []dataplane.Rule{{ID: "in", Action: dataplane.ActionAllow, Protocol: U8(6),
				Source:      dataplane.EndpointMatch{SetIDs: []string{fmt.Sprintf("sel-%d", p%ScaleSets)}},
				Destination: dataplane.EndpointMatch{Ports: []dataplane.PortRange{{First: uint16(1000 + p%1000), Last: uint16(1000 + p%1000)}}}}},
			Outbound: []dataplane.Rule{{ID: "out", Action: dataplane.ActionAllow,
				Destination: dataplane.EndpointMatch{SetIDs: []string{fmt.Sprintf("sel-%d", (p+1)%ScaleSets)}}}},
		})
	}
	objs = append(objs, AllowProfile("ns"))
	perEndpoint := ScalePolicies / ScaleEndpoints
	for e := 0; e < ScaleEndpoints; e++ {
		mine := ids[e*perEndpoint : (e+1)*perEndpoint]
		objs = append(objs, Workload(fmt.Sprintf("ns/pod-%d", e), fmt.Sprintf("cali%011x", e),
			[]dataplane.TierPolicies{{Name: "default", IngressPolicies: mine, EgressPolicies: mine, DefaultAction: dataplane.ActionDeny}}))
	}
	return objs
}

// BenchSetMemberChange times adding or removing (alternately) one member of set
// sel-7 of the scale state through apply; check inspects each batch.
func BenchSetMemberChange(b *testing.B, apply func([]dataplane.Update) error, check func(b *testing.B)) {
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
		if err := apply([]dataplane.Update{{SetDeltaUpdate: delta}}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		check(b)
	}
	ReportP99(b, lat)
}

// BenchNewEndpoint20Policies times adding one endpoint that uses 20 existing
// policies of the scale state; removing it again is not timed.
func BenchNewEndpoint20Policies(b *testing.B, apply func([]dataplane.Update) error) {
	var ids []dataplane.PolicyID
	for p := 0; p < 20; p++ {
		ids = append(ids, PID("default", fmt.Sprintf("ns%d/policy-%d", p%50, p)))
	}
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		ep := Workload("ns/new", "calinew00000000", []dataplane.TierPolicies{{Name: "default",
			IngressPolicies: ids, EgressPolicies: slices.Clone(ids), DefaultAction: dataplane.ActionDeny}})
		start := time.Now()
		if err := apply([]dataplane.Update{{EndpointUpdate: ep}}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		b.StopTimer()
		if err := apply([]dataplane.Update{{EndpointRemove: "ns/new"}}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	ReportP99(b, lat)
}

// BenchPolicyChange times replacing one policy of the scale state (used by one
// endpoint), alternating between two destination ports.
func BenchPolicyChange(b *testing.B, apply func([]dataplane.Update) error) {
	id := PID("default", "ns7/policy-7")
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := &dataplane.Policy{ID: id, Inbound: []dataplane.Rule{{ID: "in", Action: dataplane.ActionAllow, Protocol: U8(6),
			Destination: dataplane.EndpointMatch{Ports: []dataplane.PortRange{{First: uint16(2000 + i%2), Last: uint16(2000 + i%2)}}}}}}
		start := time.Now()
		if err := apply([]dataplane.Update{{PolicyUpdate: p}}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	ReportP99(b, lat)
}

// ReportP99 reports the 99th percentile of lat as metric p99-ms.
func ReportP99(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
