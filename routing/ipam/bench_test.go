package ipam

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/test/controlplane"
)

// BenchmarkAssignRelease measures one pod's life in IPAM: assign one IPv4 address
// under a new handle on a node that already holds a block with room, then release the
// handle. ns/op is the cost per address.
func BenchmarkAssignRelease(b *testing.B) {
	pools := []v3.IPPool{testPool("p", "10.0.0.0/16", 26)}
	for _, k := range storeKinds {
		b.Run(k.name, func(b *testing.B) { benchAssignRelease(b, k.make(b, pools, nil)) })
	}
	b.Run("kube", func(b *testing.B) {
		etcdOnTmpfs(b)
		cp := controlplane.Start(b)
		cp.InstallCRDs(b, filepath.Join(repoDir(b), "manifests", "crds", "v3"))
		s, err := NewKubernetesStore(cp.Config, nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range pools {
			if err := s.CreatePool(context.Background(), &p); err != nil {
				b.Fatal(err)
			}
		}
		benchAssignRelease(b, s)
	})
}

func benchAssignRelease(b *testing.B, s Store) {
	ctx := context.Background()
	a := New(s, nil)
	// Warm up: the node claims its block and keeps one address, as a node with pods does.
	if _, err := a.Assign(ctx, AssignArgs{Handle: "resident", Node: "n1", Num4: 1}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h := fmt.Sprintf("k8s-pod-network.%d", i)
		i++
		if _, err := a.Assign(ctx, AssignArgs{Handle: h, Node: "n1", Num4: 1}); err != nil {
			b.Fatal(err)
		}
		if err := a.ReleaseByHandle(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBlockAllocate measures the pure block step: take and free one ordinal of a
// half-full /26.
func BenchmarkBlockAllocate(b *testing.B) {
	cidr := netip.MustParsePrefix("10.0.0.0/26")
	blk := newBlock(cidr, "n1", false, time.Unix(0, 0))
	attr := attributeFor(AssignArgs{Handle: "h", Node: "n1"})
	notReserved := reservedBy(nil)
	allocate(blk, cidr, 32, attr, notReserved)
	b.ReportAllocs()
	for b.Loop() {
		ords := allocate(blk, cidr, 1, attr, notReserved)
		release(blk, ords)
	}
}
