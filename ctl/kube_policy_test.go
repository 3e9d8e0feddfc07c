package ctl

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/palisadenet/palisade/resource"
)

// checkPolicyKubernetes loads testdata/cluster into the API server (core objects with
// client-go, the Calico policies with palisadectl apply) and checks that policy matrix
// and trace, reading the live datastore, answer as they do from the files.
func checkPolicyKubernetes(t *testing.T, h *harness) {
	clients, err := kubernetes.NewForConfig(h.cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	objs, err := resource.LoadPaths([]string{cluster}, nil)
	if err != nil {
		t.Fatal(err)
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	core := clients.CoreV1()
	for _, o := range objs {
		if ns, ok := o.Obj.(*corev1.Namespace); ok {
			_, err := core.Namespaces().Create(ctx, ns, metav1.CreateOptions{})
			must("namespace "+ns.Name, err)
			// No controller-manager runs: create the service accounts admission wants.
			for _, sa := range []string{"default", "db"} {
				_, err := core.ServiceAccounts(ns.Name).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
				must("service account "+sa, err)
			}
		}
	}
	for _, o := range objs {
		switch obj := o.Obj.(type) {
		case *corev1.Pod:
			status := obj.Status
			created, err := core.Pods(obj.Namespace).Create(ctx, obj, metav1.CreateOptions{})
			must("pod "+obj.Name, err)
			created.Status = status
			_, err = core.Pods(obj.Namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{})
			must("pod status "+obj.Name, err)
		case *networkingv1.NetworkPolicy:
			_, err := clients.NetworkingV1().NetworkPolicies(obj.Namespace).Create(ctx, obj, metav1.CreateOptions{})
			must("networkpolicy "+obj.Name, err)
		}
	}
	// palisadectl manages the Calico kinds only: the Kubernetes NetworkPolicy in the
	// same file is skipped with a warning.
	if r := h.run("", "apply", "--skip-invalid", "-f", filepath.Join(cluster, "20-policies.yaml")); r.code != 0 {
		t.Fatalf("apply: %s", r)
	}
	checkGolden(t, "matrix-tcp-6379.txt", h.mustRun("policy", "matrix", "--port", "6379"))
	checkGolden(t, "matrix-tcp-8080.json", h.mustRun("policy", "matrix", "--port", "8080", "-o", "json"))
	checkGolden(t, "trace-denied-by-v3-rule.txt", h.mustRun("policy", "trace", "--from", "monitoring/prometheus", "--to", "shop/frontend", "--port", "6379"))
	checkGolden(t, "trace-allowed-in-first-tier.txt", h.mustRun("policy", "trace", "--from", "monitoring/prometheus", "--to", "shop/db", "--port", "9090"))
	checkGolden(t, "trace-allowed-by-k8s-rule.txt", h.mustRun("policy", "trace", "--from", "shop/frontend", "--to", "shop/db", "--port", "6379"))
}

// checkVersionKubernetes: version names the API server's version and the group in use,
// also when the cluster is chosen by a calicoctl.cfg-style file (../shared/examples/ctl.cfg
// with this cluster's kubeconfig).
func checkVersionKubernetes(t *testing.T, h *harness, group string) {
	cfg := filepath.Join(t.TempDir(), "ctl.cfg")
	text := "apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nmetadata:\nspec:\n  datastoreType: 'kubernetes'\n  kubeconfig: '" + h.cp.Kubeconfig + "'\n"
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	viaFile := &harness{t: t, env: envOf(map[string]string{"KUBECONFIG": "/nonexistent/kubeconfig"})}
	for _, hh := range []*harness{h, viaFile} {
		args := []string{"version"}
		if hh == viaFile {
			args = []string{"--config", cfg, "version", "--allow-version-mismatch"}
		}
		r := hh.run("", args...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%v: %s", args, r)
		}
		for _, want := range []string{"Client Version: dev\n", "Cluster Version: unknown\n", "Datastore: kubernetes (" + group + ")\n", "Kubernetes Version: v1."} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%v lacks %q:\n%s", args, want, r.stdout)
			}
		}
	}
}
