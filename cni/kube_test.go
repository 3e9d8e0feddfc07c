package cni_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/cni"
	"github.com/palisadenet/palisade/dataplane/workload"
	"github.com/palisadenet/palisade/internal/netnstest"
	"github.com/palisadenet/palisade/routing/ipam"
	"github.com/palisadenet/palisade/test/controlplane"
)

// nodePlumber runs the kernel plumbing inside the test's node namespace while the
// plugin's API connections stay in the test's own namespace, where the apiserver is.
type nodePlumber struct{ node *netnstest.NS }

func (p nodePlumber) PodIfaceExists(netns, iface string) (exists bool, err error) {
	err = p.node.Do(func() error { exists, err = workload.PodIfaceExists(netns, iface); return err })
	return exists, err
}
func (p nodePlumber) Setup(s workload.Spec) (res workload.Result, err error) {
	err = p.node.Do(func() error { res, err = workload.Setup(s); return err })
	return res, err
}
func (p nodePlumber) Teardown(netns, pod, host string) error {
	return p.node.Do(func() error { return workload.Teardown(netns, pod, host) })
}
func (p nodePlumber) Verify(s workload.Spec) error {
	return p.node.Do(func() error { return workload.Verify(s) })
}

type kubeEnv struct {
	client *kubernetes.Clientset
	plugin *cni.Plugin
	out    *bytes.Buffer
	node   *netnstest.NS
	conf   []byte
	store  *ipam.KubernetesStore
}

func repoDir(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..")
}

func newKubeEnv(t testing.TB) *kubeEnv {
	netnstest.Require(t)
	cp := controlplane.Start(t)
	cp.InstallCRDs(t, filepath.Join(repoDir(t), "manifests", "crds", "v3"))
	ctx := context.Background()
	client := kubernetes.NewForConfigOrDie(cp.Config)
	store, err := ipam.NewKubernetesStore(cp.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []v3.IPPool{
		{ObjectMeta: metav1.ObjectMeta{Name: "pool-a"}, Spec: v3.IPPoolSpec{CIDR: "10.246.0.0/24", BlockSize: 28, NodeSelector: "all()"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "pool-zone-b"}, Spec: v3.IPPoolSpec{CIDR: "10.247.0.0/24", BlockSize: 28, NodeSelector: "zone == 'b'"}},
	} {
		p.TypeMeta = metav1.TypeMeta{APIVersion: v3.SchemeGroupVersion.String(), Kind: "IPPool"}
		if err := store.CreatePool(ctx, &p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{"zone": "a"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// No controller-manager runs, so create the service account admission wants.
	if _, err := client.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e := &kubeEnv{client: client, out: &bytes.Buffer{}, node: netnstest.New(t, "node"), store: store}
	e.plugin = &cni.Plugin{Env: cni.OSEnv(), Plumber: nodePlumber{e.node}, OpenDatastore: cni.OpenDatastore, Stdout: e.out}
	e.conf = []byte(`{"cniVersion":"1.0.0","name":"k8s-pod-network","type":"palisade-cni","datastore_type":"kubernetes",
		"kubernetes":{"kubeconfig":"` + cp.Kubeconfig + `"},"nodename":"node-1","ipam":{"type":"palisade-ipam"}}`)
	return e
}

func (e *kubeEnv) createPod(t testing.TB, name string, ann map[string]string) {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Annotations: ann},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}
	if _, err := e.client.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (e *kubeEnv) annotations(t testing.TB, name string) map[string]string {
	t.Helper()
	pod, err := e.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pod.Annotations
}

func (e *kubeEnv) args(pod *netnstest.NS, name, cid string) *skel.CmdArgs {
	return &skel.CmdArgs{ContainerID: cid, Netns: pod.Path(), IfName: "eth0", StdinData: e.conf,
		Args: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=" + name + ";K8S_POD_INFRA_CONTAINER_ID=" + cid}
}

func (e *kubeEnv) add(t testing.TB, pod *netnstest.NS, name, cid string) netip.Prefix {
	t.Helper()
	e.out.Reset()
	if err := e.plugin.Add(e.args(pod, name, cid)); err != nil {
		t.Fatalf("ADD %s: %v", name, err)
	}
	var res struct {
		IPs []struct{ Address string } `json:"ips"`
	}
	if err := json.Unmarshal(e.out.Bytes(), &res); err != nil || len(res.IPs) != 1 {
		t.Fatalf("ADD %s result %s (%v)", name, e.out, err)
	}
	return netip.MustParsePrefix(res.IPs[0].Address)
}

func TestKubernetesMode(t *testing.T) {
	e := newKubeEnv(t)
	ctx := context.Background()
	e.createPod(t, "web", nil)
	e.createPod(t, "zoned", map[string]string{cni.AnnotationIPv4Pools: `["pool-zone-b"]`})
	e.createPod(t, "fixed", map[string]string{cni.AnnotationIPAddrs: `["10.246.0.200"]`})
	podWeb, podFixed, podZoned := netnstest.New(t, "web"), netnstest.New(t, "fixed"), netnstest.New(t, "zoned")

	addr := e.add(t, podWeb, "web", "cid-web")
	if !netip.MustParsePrefix("10.246.0.0/24").Contains(addr.Addr()) {
		t.Errorf("web got %s, want an address from pool-a", addr)
	}
	got, err := e.client.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{cni.AnnotationPodIP: addr.String(), cni.AnnotationPodIPs: addr.String(), cni.AnnotationContainerID: "cid-web"} {
		if got.Annotations[k] != want {
			t.Errorf("pod annotation %s = %q, want %q", k, got.Annotations[k], want)
		}
	}
	if fixed := e.add(t, podFixed, "fixed", "cid-fixed"); fixed.String() != "10.246.0.200/32" {
		t.Errorf("fixed pod got %s, want its ipAddrs annotation 10.246.0.200/32", fixed)
	}
	// pool-zone-b selects zone b; the node is in zone a, so the pod's choice fails.
	err = e.plugin.Add(e.args(podZoned, "zoned", "cid-zoned"))
	if err == nil || !strings.Contains(err.Error(), "pool-zone-b") {
		t.Errorf("ADD with a pool that does not select the node = %v, want an error naming pool-zone-b", err)
	}
	if err := podWeb.Ping(addr.Addr(), time.Second); err != nil {
		t.Errorf("pod cannot reach its own address: %v", err)
	}

	// A DEL of an older sandbox leaves the current sandbox's record alone; the
	// current one's DEL removes it.
	if err := e.plugin.Del(e.args(podWeb, "web", "cid-web-older")); err != nil {
		t.Fatalf("DEL of an older sandbox: %v", err)
	}
	if got := e.annotations(t, "web"); got[cni.AnnotationContainerID] != "cid-web" || got[cni.AnnotationPodIP] != addr.String() {
		t.Errorf("annotations after an older sandbox's DEL = %v, want cid-web's kept", got)
	}
	for _, c := range []struct {
		ns        *netnstest.NS
		name, cid string
	}{{podWeb, "web", "cid-web"}, {podFixed, "fixed", "cid-fixed"}, {podZoned, "zoned", "cid-zoned"}} {
		for range 2 {
			if err := e.plugin.Del(e.args(c.ns, c.name, c.cid)); err != nil {
				t.Fatalf("DEL %s: %v", c.name, err)
			}
		}
	}
	if got := e.annotations(t, "web"); got[cni.AnnotationContainerID] != "" || got[cni.AnnotationPodIP] != "" || got[cni.AnnotationPodIPs] != "" {
		t.Errorf("annotations after DEL = %v, want the address record gone", got)
	}
	blocks, err := e.store.Blocks().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		for ord, idx := range b.Spec.Allocations {
			if idx != nil {
				t.Errorf("block %s ordinal %d still allocated after DEL (%v)", b.Spec.CIDR, ord, b.Spec.Attributes[*idx].HandleID)
			}
		}
	}
}

// BenchmarkAddDelKubernetes measures the plugin's ADD and DEL against a real
// apiserver (IPAM in CRDs, pod lookup and annotation patch), block already claimed.
func BenchmarkAddDelKubernetes(b *testing.B) {
	e := newKubeEnv(b)
	e.createPod(b, "warm", nil)
	e.add(b, netnstest.New(b, "warm"), "warm", "warm")
	e.createPod(b, "bench", nil)
	pod := netnstest.New(b, "bench")
	var adds, dels []time.Duration
	b.ResetTimer()
	for i := range b.N {
		cid := fmt.Sprintf("bench%d", i)
		start := time.Now()
		e.add(b, pod, "bench", cid)
		mid := time.Now()
		if err := e.plugin.Del(e.args(pod, "bench", cid)); err != nil {
			b.Fatal(err)
		}
		adds, dels = append(adds, mid.Sub(start)), append(dels, time.Since(mid))
	}
	b.StopTimer()
	reportPercentiles(b, "add", adds)
	reportPercentiles(b, "del", dels)
}

// reportPercentiles adds p50 and p99 of durations (in ms) to the benchmark's output.
func reportPercentiles(b *testing.B, what string, d []time.Duration) {
	slices.Sort(d)
	pick := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(pick(0.50), what+"-p50-ms")
	b.ReportMetric(pick(0.99), what+"-p99-ms")
}
