package controllers

import (
	"fmt"
	"net/netip"
	"testing"

	v3 "github.com/palisadenet/palisade/api/v3"
)

// BenchmarkPlanGC: one scan's decisions for a cluster of 1,000 nodes with 64 pods
// each (1,000 full /26 blocks, 64,000 addresses), 1% of the pods gone.
func BenchmarkPlanGC(b *testing.B) {
	const nodes, perNode = 1000, 64
	inv := Inventory{Pods: map[string]bool{}, Nodes: map[string]bool{}}
	for n := range nodes {
		node := fmt.Sprintf("node-%d", n)
		inv.Nodes[node] = true
		base := netip.AddrFrom4([4]byte{10, byte(n >> 2), byte(n&3) << 6, 0})
		var holders []holder
		for i := range perNode {
			pod := fmt.Sprintf("p-%d-%d", n, i)
			if (n*perNode+i)%100 != 0 {
				inv.Pods["ns/"+pod] = true
			}
			holders = append(holders, holder{i, "k8s-pod-network." + pod, map[string]string{"namespace": "ns", "pod": pod, "node": node}})
		}
		inv.Blocks = append(inv.Blocks, block(netip.PrefixFrom(base, 26).String(), node, holders...))
		inv.Affinities = append(inv.Affinities, &v3.BlockAffinity{Spec: v3.BlockAffinitySpec{Node: node, CIDR: netip.PrefixFrom(base, 26).String()}})
	}
	seen := Sightings{}
	PlanGC(inv, seen, t0, grace)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := PlanGC(inv, seen, t0.Add(grace), grace)
		if len(p.Release) != nodes*perNode/100 {
			b.Fatalf("%d releases, want %d", len(p.Release), nodes*perNode/100)
		}
	}
}
