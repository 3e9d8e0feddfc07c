package controllers

import (
	"context"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/manifests/install"
	"github.com/palisadenet/palisade/routing/ipam"
	"github.com/palisadenet/palisade/test/controlplane"
)

// startCluster starts the real apiserver with the v3 CRDs and the install manifest's
// accounts and RBAC, and returns the admin client and a config that acts as the
// palisade-controllers service account.
func startCluster(t *testing.T) (*controlplane.ControlPlane, kubernetes.Interface, *rest.Config) {
	t.Helper()
	cp := controlplane.Start(t)
	cp.InstallCRDs(t, "../manifests/crds/v3")
	admin, err := kubernetes.NewForConfig(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	createRBAC(t, admin)
	asController := rest.CopyConfig(cp.Config)
	asController.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:kube-system:palisade-controllers",
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"},
	}
	return cp, admin, asController
}

// createRBAC creates the ServiceAccounts, Roles and bindings of manifests/palisade.yaml,
// so the test runs with exactly the rights users install.
func createRBAC(t *testing.T, admin kubernetes.Interface) {
	t.Helper()
	data, err := os.ReadFile("../manifests/palisade.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := install.Objects(data)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, u := range objs {
		var err error
		conv := func(into any) { err = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into) }
		switch u.GetKind() {
		case "ServiceAccount":
			o := &corev1.ServiceAccount{}
			if conv(o); err == nil {
				_, err = admin.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
			}
		case "ClusterRole":
			o := &rbacv1.ClusterRole{}
			if conv(o); err == nil {
				_, err = admin.RbacV1().ClusterRoles().Create(ctx, o, metav1.CreateOptions{})
			}
		case "ClusterRoleBinding":
			o := &rbacv1.ClusterRoleBinding{}
			if conv(o); err == nil {
				_, err = admin.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
			}
		case "Role":
			o := &rbacv1.Role{}
			if conv(o); err == nil {
				_, err = admin.RbacV1().Roles(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
			}
		case "RoleBinding":
			o := &rbacv1.RoleBinding{}
			if conv(o); err == nil {
				_, err = admin.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
			}
		}
		if err != nil {
			t.Fatalf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
}

func createNode(t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	if _, err := c.CoreV1().Nodes().Create(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func createPod(t *testing.T, c kubernetes.Interface, node, name string) {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "pause"}}}}
	if _, err := c.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestGCOnAPIServer runs the collector as the palisade-controllers service account
// against IPAM state written by the real allocator through the apiserver.
func TestGCOnAPIServer(t *testing.T) {
	cp, admin, asController := startCluster(t)
	ctx := context.Background()
	log := zaptest.NewLogger(t)
	if _, err := admin.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The CNI's side, with admin rights: a pool, two nodes, pods with addresses.
	cniStore, err := ipam.NewKubernetesStore(cp.Config, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := cniStore.CreatePool(ctx, &v3.IPPool{TypeMeta: metav1.TypeMeta{APIVersion: v3.SchemeGroupVersion.String(), Kind: v3.KindIPPool},
		ObjectMeta: metav1.ObjectMeta{Name: "pool"}, Spec: v3.IPPoolSpec{CIDR: "10.1.0.0/24", BlockSize: 28}}); err != nil {
		t.Fatal(err)
	}
	cni := ipam.New(cniStore, log)
	assign := func(node, pod string) {
		t.Helper()
		_, err := cni.Assign(ctx, ipam.AssignArgs{Handle: "k8s-pod-network." + pod, Node: node, Num4: 1,
			Attrs: map[string]string{ipam.AttrNamespace: "default", ipam.AttrPod: pod, ipam.AttrNode: node}})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"node-a", "node-b"} {
		createNode(t, admin, n)
	}
	for _, p := range []struct{ node, pod string }{{"node-a", "keep"}, {"node-b", "gone"}} {
		createPod(t, admin, p.node, p.pod)
		assign(p.node, p.pod)
	}
	// No kubelet confirms the shutdown, so delete at once (a terminating pod still
	// exists, and its address is rightly kept).
	now := int64(0)
	if err := admin.CoreV1().Pods("default").Delete(ctx, "gone", metav1.DeleteOptions{GracePeriodSeconds: &now}); err != nil {
		t.Fatal(err)
	}
	if err := admin.CoreV1().Nodes().Delete(ctx, "node-b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	// The collector's side, with the service account's rights.
	gcStore, err := ipam.NewKubernetesStore(asController, log)
	if err != nil {
		t.Fatal(err)
	}
	md, err := metadata.NewForConfig(asController)
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(t0)
	gc, err := NewGC(gcStore, ipam.New(gcStore, log), NewKubeCluster(md), clk, log, GCOptions{Grace: grace, Period: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	scan := func(at time.Duration) Report {
		t.Helper()
		clk.SetTime(t0.Add(at))
		rep, err := gc.Scan(ctx)
		if err != nil {
			t.Fatalf("scan at %s: %v", at, err)
		}
		for _, err := range rep.Errors {
			t.Errorf("scan at %s: %v", at, err)
		}
		return rep
	}
	if rep := scan(0); len(rep.Released)+len(rep.DeletedBlocks) != 0 || len(rep.Plan.Waiting) != 1 {
		t.Fatalf("first scan acted or saw %d waiting: %+v", len(rep.Plan.Waiting), rep)
	}
	rep := scan(grace)
	if !slices.Equal(released(rep), []string{"k8s-pod-network.gone"}) {
		t.Fatalf("released %v, want the deleted pod's handle", released(rep))
	}
	if len(rep.Plan.Kept) != 1 || rep.Plan.Kept[0].Node != "node-b" {
		t.Errorf("node-b's block not reported as kept while it held an address: %+v", rep.Plan.Kept)
	}
	rep = scan(grace + time.Minute)
	if !slices.Equal(rep.DeletedBlocks, []string{"10.1.0.16/28"}) {
		t.Errorf("deleted blocks %v, want node-b's emptied block 10.1.0.16/28", rep.DeletedBlocks)
	}

	report, err := cni.CheckWith(ctx, ipam.CheckOptions{LivePods: map[string]bool{"default/keep": true}, LiveNodes: map[string]bool{"node-a": true}})
	if err != nil {
		t.Fatal(err)
	}
	if !report.OK() || report.InUse != 1 || report.Blocks != 1 || report.Affinities != 1 || report.Handles != 1 {
		t.Errorf("IPAM after GC: %+v; want node-a's block, affinity and the live pod's handle only, consistent", report)
	}
}

// TestLeaderElectionOnAPIServer: two replicas with the service account's rights; only
// one runs at a time, and the second takes over as soon as the first stops.
func TestLeaderElectionOnAPIServer(t *testing.T) {
	_, _, asController := startCluster(t)
	client, err := kubernetes.NewForConfig(asController)
	if err != nil {
		t.Fatal(err)
	}
	var running, maxRunning atomic.Int32
	started := make(chan string, 2)
	work := func(id string) func(context.Context) {
		return func(ctx context.Context) {
			n := running.Add(1)
			for {
				m := maxRunning.Load()
				if n <= m || maxRunning.CompareAndSwap(m, n) {
					break
				}
			}
			started <- id
			<-ctx.Done()
			running.Add(-1)
		}
	}
	opts := func(id string) LeaderOptions {
		return LeaderOptions{Namespace: "kube-system", Identity: id,
			LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 200 * time.Millisecond}
	}
	log := zaptest.NewLogger(t)
	ctxA, stopA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	doneA, doneB := make(chan error, 1), make(chan error, 1)
	go func() { doneA <- RunLeaderElected(ctxA, client, opts("a"), log, work("a")) }()
	if id := waitFor(t, started, 20*time.Second); id != "a" {
		t.Fatalf("%s leads, want a (started first)", id)
	}
	go func() { doneB <- RunLeaderElected(ctxB, client, opts("b"), log, work("b")) }()
	select {
	case id := <-started:
		t.Fatalf("%s started while a leads", id)
	case <-time.After(2 * time.Second):
	}
	handover := time.Now()
	stopA()
	if err := <-doneA; err != context.Canceled {
		t.Errorf("a returned %v, want context.Canceled", err)
	}
	if id := waitFor(t, started, 10*time.Second); id != "b" {
		t.Fatalf("%s leads after a stopped, want b", id)
	}
	if d := time.Since(handover); d > 2*time.Second {
		t.Errorf("b took over after %s; a released lease should take about one retry period", d)
	}
	stopB()
	if err := <-doneB; err != context.Canceled {
		t.Errorf("b returned %v", err)
	}
	if m := maxRunning.Load(); m != 1 {
		t.Errorf("%d replicas ran at once", m)
	}
}

func waitFor(t *testing.T, ch <-chan string, d time.Duration) string {
	t.Helper()
	select {
	case id := <-ch:
		return id
	case <-time.After(d):
		t.Fatalf("nobody started leading within %s", d)
		return ""
	}
}
