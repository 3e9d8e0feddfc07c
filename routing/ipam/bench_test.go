package ipam

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/test/controlplane"
	"k8s.io/client-go/rest"
)

// BenchmarkAssignRelease measures one pod's life in IPAM: assign one IPv4 address
// under a new handle on a node that already holds a block with room, then release the
// handle. ns/op is the cost per address. The kube variants run against a real
// kube-apiserver (skipped when it cannot start) and also report requests per address;
// "config-ttl" lets the allocator reuse pools and reservations for a second, as a
// long-lived allocator may (a CNI process per pod cannot).
func BenchmarkAssignRelease(b *testing.B) {
	pools := []v3.IPPool{testPool("p", "10.0.0.0/16", 26)}
	for _, k := range storeKinds {
		b.Run(k.name, func(b *testing.B) { benchAssignRelease(b, k.make(b, pools, nil), Options{}, nil) })
	}
	b.Run("kube", func(b *testing.B) {
		etcdOnTmpfs(b)
		cp := controlplane.Start(b)
		cp.InstallCRDs(b, filepath.Join(repoDir(b), "manifests", "crds", "v3"))
		var requests atomic.Int64
		cfg := rest.CopyConfig(cp.Config)
		cfg.QPS, cfg.Burst = -1, 0
		cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(r *http.Request) (*http.Response, error) {
				requests.Add(1)
				return rt.RoundTrip(r)
			})
		}
		s, err := NewKubernetesStore(cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range pools {
			if err := s.CreatePool(context.Background(), &p); err != nil {
				b.Fatal(err)
			}
		}
		b.Run("read-config", func(b *testing.B) { benchAssignRelease(b, s, Options{}, &requests) })
		b.Run("config-ttl", func(b *testing.B) { benchAssignRelease(b, s, Options{ConfigTTL: time.Second}, &requests) })
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func benchAssignRelease(b *testing.B, s Store, opts Options, requests *atomic.Int64) {
	ctx := context.Background()
	a := NewWithOptions(s, nil, opts)
	one := func(h string) {
		if _, err := a.Assign(ctx, AssignArgs{Handle: h, Node: "n1", Num4: 1}); err != nil {
			b.Fatal(err)
		}
		if err := a.ReleaseByHandle(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
	// Warm up: the node claims its block and keeps one address, as a node with pods
	// does; a fresh apiserver's first requests are slow, so run some before timing.
	if _, err := a.Assign(ctx, AssignArgs{Handle: "resident", Node: "n1", Num4: 1}); err != nil {
		b.Fatal(err)
	}
	for i := range 50 {
		one(fmt.Sprintf("warm-%d", i))
	}
	var before int64
	if requests != nil {
		before = requests.Load()
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		one(fmt.Sprintf("k8s-pod-network.%d", i))
		i++
	}
	if requests != nil {
		b.ReportMetric(float64(requests.Load()-before)/float64(b.N), "req/op")
	}
	if err := a.ReleaseByHandle(ctx, "resident"); err != nil {
		b.Fatal(err)
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
