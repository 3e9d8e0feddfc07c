package install

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/palisadenet/palisade/calc/datastore"
	k8sstore "github.com/palisadenet/palisade/calc/datastore/k8s"
	"github.com/palisadenet/palisade/routing/ipam"
	"github.com/palisadenet/palisade/test/controlplane"
)

// asNode is the admin config impersonating the palisade-node service account.
func asNode(cp *controlplane.ControlPlane) *rest.Config {
	c := rest.CopyConfig(cp.Config)
	c.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:kube-system:palisade-node",
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"},
	}
	return c
}

// checkNodeWorks runs the agent's Kubernetes datastore and the CNI's IPAM with the
// palisade-node account's rights: the informers must sync (each needs list and watch)
// and an address must be assigned and released.
func checkNodeWorks(ctx context.Context, t *testing.T, cp *controlplane.ControlPlane) {
	t.Helper()
	cfg := asNode(cp)
	log := zaptest.NewLogger(t)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	events := make(chan datastore.Event, 64)
	done := make(chan error, 1)
	go func() { done <- k8sstore.New(client, dyn, disc, log, k8sstore.Options{}).Run(runCtx, events) }()
wait:
	for {
		select {
		case ev := <-events:
			for _, err := range ev.Errors {
				t.Errorf("datastore as palisade-node: %v", err)
			}
			if ev.InSync {
				break wait
			}
		case err := <-done:
			t.Fatalf("datastore as palisade-node stopped: %v", err)
		case <-runCtx.Done():
			t.Fatal("the agent's informers did not sync within 30s with palisade-node's rights (a list or watch is refused)")
		}
	}
	stop()

	store, err := ipam.NewKubernetesStore(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	alloc := ipam.New(store, log)
	env := map[string]string{"CALICO_IPV4POOL_CIDR": "10.9.0.0/16"}
	if err := alloc.EnsureDefaultPools(ctx, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("creating the default pool as palisade-node: %v", err)
	}
	args := ipam.AssignArgs{Handle: "k8s-pod-network.abc", Node: "node-1", Num4: 1,
		Attrs: map[string]string{ipam.AttrNamespace: "default", ipam.AttrPod: "web", ipam.AttrNode: "node-1"}}
	if _, err := alloc.Assign(ctx, args); err != nil {
		t.Fatalf("assigning as palisade-node: %v", err)
	}
	if err := alloc.ReleaseByHandle(ctx, args.Handle); err != nil {
		t.Fatalf("releasing as palisade-node: %v", err)
	}
}
