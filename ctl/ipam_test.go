package ctl

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/palisadenet/palisade/routing/ipam"
)

// TestIPAMFile allocates addresses with routing/ipam in a file datastore, then checks
// what ipam show, check and release print and do.
func TestIPAMFile(t *testing.T) {
	h := fileHarness(t)
	h.mustRun("apply", "-f", filepath.Join(examplesDir, "ippool-v3.yaml"))
	store, err := ipam.NewFileStore(h.dir, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
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

	live := `apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x}
spec: {nodeName: node1, containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x}
spec: {nodeName: node1, containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: "y"}
spec: {nodeName: node2, containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Node
metadata: {name: node1}
---
apiVersion: v1
kind: Node
metadata: {name: node2}
`
	if err := os.WriteFile(filepath.Join(h.dir, "cluster.yaml"), []byte(live), 0o644); err != nil {
		t.Fatal(err)
	}
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
