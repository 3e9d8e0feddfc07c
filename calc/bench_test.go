package calc

import (
	"fmt"
	"github.com/palisadenet/palisade/internal/benchcluster"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/palisadenet/palisade/calc/datastore"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
)

// The benchmark cluster is internal/benchcluster's: the benchmarked node holds 250
// pods; at 100,000 pods there are 10,000 policies.
const benchNode = benchcluster.Node

type benchCluster struct {
	pods, others []datastore.Update // pods; namespaces, sets, policies
	nodes        int
}

var (
	clusterMu    sync.Mutex
	clusterCache = map[int]*benchCluster{}
)

func benchClusterOf(pods int) *benchCluster {
	clusterMu.Lock()
	defer clusterMu.Unlock()
	if c := clusterCache[pods]; c != nil {
		return c
	}
	c := buildCluster(pods)
	clusterCache[pods] = c
	return c
}

func buildCluster(pods int) *benchCluster {
	gen := benchcluster.Build(pods)
	c := &benchCluster{nodes: gen.Nodes}
	for _, o := range gen.Others {
		c.others = append(c.others, mustUpdate(o))
	}
	for _, p := range gen.Pods {
		c.pods = append(c.pods, mustUpdate(p))
	}
	return c
}

func mustUpdate(obj kruntime.Object) datastore.Update {
	u, err := datastore.UpdateOf(obj)
	if err != nil {
		panic(err)
	}
	return u
}

func benchPod(i, nodes int, labelOverride ...string) *corev1.Pod {
	return benchcluster.Pod(i, nodes, labelOverride...)
}

// coldStart feeds the whole cluster to a new graph in batches of 1,000, the way
// an informer's initial list arrives, and returns it with the number of updates
// emitted.
func coldStart(c *benchCluster) (*Graph, int) {
	g := New(zap.NewNop(), benchNode)
	emitted := 0
	all := slices.Concat(c.others, c.pods)
	for start := 0; start < len(all); start += 1000 {
		emitted += len(g.Apply(all[start:min(start+1000, len(all))]))
	}
	emitted += len(g.InSync())
	return g, emitted
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkColdStart: from an empty graph to the full desired state, at 10k, 30k
// and 100k pods. graph-MB is the heap the graph holds after GC (HeapInuse with the
// graph minus without; the input objects are excluded).
func BenchmarkColdStart(b *testing.B) {
	for _, pods := range []int{10_000, 30_000, 100_000} {
		b.Run(fmt.Sprintf("pods=%d", pods), func(b *testing.B) {
			c := benchClusterOf(pods)
			before := heapInuse()
			var g *Graph
			var emitted int
			b.ResetTimer()
			for range b.N {
				g = nil
				g, emitted = coldStart(c)
			}
			b.StopTimer()
			after := heapInuse()
			st := g.Status()
			b.ReportMetric(float64(after-before)/(1<<20), "graph-MB")
			b.ReportMetric(float64(after)/(1<<20), "heapinuse-MB")
			b.ReportMetric(float64(emitted), "updates")
			b.ReportMetric(float64(st.ActivePolicies), "active-policies")
			b.ReportMetric(float64(st.Sets), "sets")
			benchKeep = g
		})
	}
}

// BenchmarkRemotePodLabelChange: one remote pod's app label flips between two
// values, one event per Apply; the delta touches only the sets whose selectors it
// enters or leaves. p99-ns is the 99th percentile over the iterations.
func BenchmarkRemotePodLabelChange(b *testing.B) {
	for _, pods := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("pods=%d", pods), func(b *testing.B) { benchLabelChange(b, pods) })
	}
}

func benchLabelChange(b *testing.B, pods int) {
	c := benchClusterOf(pods)
	g, _ := coldStart(c)
	remote := []int{1, 2, 3, 101, 5003, 7777} // none on node0
	durations := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		idx := remote[i%len(remote)]
		app := fmt.Sprintf("a%d", (idx+1+i%2)%10)
		u := mustUpdate(benchPod(idx, c.nodes, app))
		start := time.Now()
		g.Apply([]datastore.Update{u})
		durations = append(durations, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(durations)
	b.ReportMetric(float64(durations[len(durations)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkEndpointUpdates: batches of 100 pod updates (labels and IPs change,
// local and remote pods) for sustained throughput; updates/s is reported.
func BenchmarkEndpointUpdates(b *testing.B) {
	c := benchClusterOf(100_000)
	g, _ := coldStart(c)
	const batch = 100
	ups := make([]datastore.Update, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		for j := range ups {
			idx := (i*batch + j) * 7919 % len(c.pods)
			p := benchPod(idx, c.nodes, fmt.Sprintf("a%d", (idx+i)%10))
			if (i+j)%3 == 0 {
				p.Status.PodIP = fmt.Sprintf("10.%d.%d.%d", 128+(idx>>16&63), idx>>8&255, idx&255)
			}
			ups[j] = mustUpdate(p)
		}
		b.StartTimer()
		g.Apply(ups)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "updates/s")
}

var benchKeep *Graph // keeps the last graph for heap profiles
