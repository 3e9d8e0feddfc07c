package ctl

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/palisadenet/palisade/routing/ipam"
)

// liveWorkload is a pod (namespace, name, node) that exists.
type liveWorkload struct{ ns, name, node string }

// ipamLive are the pods and nodes the IPAM test says exist; the pod x/gone is missing.
var ipamLive = []liveWorkload{{"x", "a", "node1"}, {"x", "b", "node1"}, {"y", "c", "node2"}}

// TestIPAMFile allocates addresses with routing/ipam in a file datastore, then checks
// what ipam show, check and release print and do.
func TestIPAMFile(t *testing.T) {
	h := fileHarness(t)
	store, err := ipam.NewFileStore(h.dir, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	checkIPAM(t, h, store, func() {
		var b strings.Builder
		for _, w := range ipamLive {
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Pod\nmetadata: {name: %q, namespace: %q}\nspec: {nodeName: %s, containers: [{name: c, image: i}]}\n", w.name, w.ns, w.node)
		}
		b.WriteString("---\napiVersion: v1\nkind: Node\nmetadata: {name: node1}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: node2}\n")
		if err := os.WriteFile(filepath.Join(h.dir, "cluster.yaml"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	})
}

// checkIPAM allocates four addresses on two nodes, then checks ipam show, check (before
// and after makeLive creates the pods and nodes of ipamLive) and release.
func checkIPAM(t *testing.T, h *harness, store ipam.Store, makeLive func()) {
	h.mustRun("apply", "-f", filepath.Join(examplesDir, "ippool-v3.yaml"))
	alloc := ipam.New(store, zap.NewNop())
	ctx := context.Background()
	assign := func(handle, node, ns, pod string, n int) []ipam.Assignment {
		t.Helper()
		got, err := alloc.Assign(ctx, ipam.AssignArgs{Handle: handle, Node: node, Num4: n,
			Attrs: map[string]string{ipam.AttrNamespace: ns, ipam.AttrPod: pod, ipam.AttrNode: node}})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	assign("k8s-pod-network.a", "node1", "x", "a", 1)
	assign("k8s-pod-network.b", "node1", "x", "b", 1)
	gone := assign("k8s-pod-network.gone", "node1", "x", "gone", 1)
	assign("k8s-pod-network.c", "node2", "y", "c", 1)

	checkGolden(t, "ipam-show.txt", h.mustRun("ipam", "show"))
	checkGolden(t, "ipam-show-blocks.txt", h.mustRun("ipam", "show", "--show-blocks"))

	// Without pods or nodes in the directory the checks that need them are skipped.
	r := h.run("", "ipam", "check")
	if r.code != 0 {
		t.Fatalf("ipam check with no pods: %s", r)
	}
	checkGolden(t, "ipam-check-no-pods.txt", r.stdout)

	makeLive()
	r = h.run("", "ipam", "check")
	if r.code != 1 {
		t.Fatalf("ipam check with a leak: want exit 1, got %s", r)
	}
	checkGolden(t, "ipam-check-leak.txt", r.stdout)

	leaked := gone[0].Addr.Addr().String()
	if out := h.mustRun("ipam", "release", "--ip", leaked); out != "Successfully released IP address "+leaked+"\n" {
		t.Errorf("release: %q", out)
	}
	r = h.run("", "ipam", "check")
	if r.code != 0 || !strings.Contains(r.stdout, "No problems found.") {
		t.Errorf("ipam check after release: %s", r)
	}
	r = h.run("", "ipam", "release", "--ip", leaked)
	if r.code != 1 || !strings.Contains(r.stderr, leaked+" is not allocated") {
		t.Errorf("second release: %s", r)
	}
	r = h.run("", "ipam", "release", "--ip", "10.245.1.300")
	if r.code != 1 || !strings.Contains(r.stderr, `--ip "10.245.1.300": not an IP address`) {
		t.Errorf("bad address: %s", r)
	}
	// The IPAM objects are ordinary resources too.
	if out := h.mustRun("get", "ipamblocks"); !strings.Contains(out, "10.245.1.0/26") || !strings.Contains(out, "host:node1") {
		t.Errorf("get ipamblocks:\n%s", out)
	}
}

// checkIPAMKubernetes runs checkIPAM over routing/ipam's KubernetesStore, creating the
// live pods and nodes with client-go.
func checkIPAMKubernetes(t *testing.T, h *harness) {
	store, err := ipam.NewKubernetesStore(h.cp.Config, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	checkIPAM(t, h, store, func() {
		clients, err := kubernetes.NewForConfig(h.cp.Config)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		core := clients.CoreV1()
		for _, n := range []string{"node1", "node2"} {
			if _, err := core.Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, ns := range []string{"x", "y"} {
			if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := core.ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, w := range ipamLive {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: w.name, Namespace: w.ns},
				Spec: corev1.PodSpec{NodeName: w.node, Containers: []corev1.Container{{Name: "c", Image: "i"}}}}
			if _, err := core.Pods(w.ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	})
}
