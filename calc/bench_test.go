package calc

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/calc/datastore"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The benchmark cluster: 100 pods and 10 policies (5 Kubernetes, 5 Calico v3)
// per namespace, pods spread over nodes so that the benchmarked node holds 250
// pods, plus 100 GlobalNetworkSets. At 100,000 pods: 1,000 namespaces, 10,000
// policies (100 of the v3 ones GlobalNetworkPolicies).
const (
	benchPodsPerNS     = 100
	benchPoliciesPerNS = 10
	benchLocalPods     = 250
	benchNode          = "node0"
)

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
	nss := pods / benchPodsPerNS
	c := &benchCluster{nodes: pods / benchLocalPods}
	for n := range nss {
		ns := fmt.Sprintf("ns%d", n)
		c.others = append(c.others, mustUpdate(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
			Labels: map[string]string{"team": fmt.Sprintf("t%d", n%20), "env": []string{"prod", "dev", "test"}[n%3]}}}))
		for i := range benchPoliciesPerNS / 2 {
			c.others = append(c.others, mustUpdate(benchK8sPolicy(ns, n, i)))
			c.others = append(c.others, mustUpdate(benchV3Policy(ns, n, i)))
		}
	}
	for i := range 100 {
		c.others = append(c.others, mustUpdate(&v3.GlobalNetworkSet{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("gns%d", i),
			Labels: map[string]string{"role": fmt.Sprintf("r%d", i%5)}},
			Spec: v3.GlobalNetworkSetSpec{Nets: []string{fmt.Sprintf("172.%d.%d.0/24", 16+i/250, i%250)}}}))
	}
	for i := range pods {
		c.pods = append(c.pods, mustUpdate(benchPod(i, c.nodes)))
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
	app := fmt.Sprintf("a%d", (i+i/nodes)%10)
	if len(labelOverride) > 0 {
		app = labelOverride[0]
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: fmt.Sprintf("pod%d", i), Namespace: fmt.Sprintf("ns%d", i/benchPodsPerNS),
		Labels: map[string]string{"app": app, "role": fmt.Sprintf("r%d", i%5), "pod-template-hash": fmt.Sprintf("h%d", i%7)},
	}}
	p.Spec.NodeName = fmt.Sprintf("node%d", i%nodes)
	p.Spec.ServiceAccountName = "default"
	p.Spec.Containers = []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{
		{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}}}}
	p.Status.PodIP = fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	p.Status.Phase = corev1.PodRunning
	return p
}

func benchK8sPolicy(ns string, n, i int) *networkingv1.NetworkPolicy {
	http := intstr.FromString("http")
	p443 := intstr.FromInt32(443)
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("k%d", i), Namespace: ns}}
	np.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("a%d", (n+i)%10)}}
	np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{
		{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("a%d", (n+i+1)%10)}}}},
			Ports: []networkingv1.NetworkPolicyPort{{Port: &http}}},
		{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": fmt.Sprintf("t%d", (n+i)%20)}}}},
			Ports: []networkingv1.NetworkPolicyPort{{Port: &p443}}},
	}
	if i%2 == 0 {
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
		np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{
			{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.255.0.0/16"}}}}}}
	}
	return np
}

func benchV3Policy(ns string, n, i int) kruntime.Object {
	order := float64(100 + i)
	tcp := v3.ProtocolFromName("TCP")
	ingress := []v3.Rule{{Action: v3.Allow, Protocol: &tcp,
		Source:      v3.EntityRule{Selector: fmt.Sprintf("role in {'r%d', 'r%d'}", i%5, (i+1)%5), NamespaceSelector: []string{"env == 'prod'", "team == 't3'", ""}[i%3]},
		Destination: v3.EntityRule{Ports: []v3.Port{v3.PortFromString("http"), v3.PortFromNumber(443)}}}}
	egress := []v3.Rule{{Action: v3.Deny, Destination: v3.EntityRule{Nets: []string{"192.168.0.0/16"}}},
		{Action: v3.Allow, Destination: v3.EntityRule{Selector: fmt.Sprintf("role == 'r%d'", i%5), NotSelector: "app == 'a9'"}}}
	sel := fmt.Sprintf("app == 'a%d' && role != 'r%d'", (n+i)%10, i%5)
	if i == 0 && n%10 == 0 { // 100 GlobalNetworkPolicies at 1,000 namespaces
		return &v3.GlobalNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("g-%s", ns)},
			Spec: v3.GlobalNetworkPolicySpec{Order: &order, Selector: fmt.Sprintf("app == 'a%d'", n%10),
				NamespaceSelector: fmt.Sprintf("team == 't%d'", n%20), Ingress: ingress, Egress: egress}}
	}
	return &v3.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("v%d", i), Namespace: ns},
		Spec: v3.NetworkPolicySpec{Order: &order, Selector: sel, Ingress: ingress, Egress: egress}}
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
