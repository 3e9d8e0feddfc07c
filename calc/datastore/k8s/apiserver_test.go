package k8s_test

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/calc"
	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/calc/datastore/k8s"
	"github.com/palisadenet/palisade/calc/desired"
	"github.com/palisadenet/palisade/test/controlplane"
	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

func repoDir(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot find the test's source directory")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// TestAgainstAPIServer runs the adapter against a real etcd + kube-apiserver with
// the Calico CRDs of either group installed, feeds its events into the graph, and
// checks that pods, namespaces and both kinds of policy arrive, including a change
// made after the initial sync. It skips where the control plane is unavailable.
func TestAgainstAPIServer(t *testing.T) {
	for _, tc := range []struct {
		name, crdDir string
		gv           string
	}{
		{"projectcalico.org v3", "v3", v3.SchemeGroupVersion.String()},
		{"crd.projectcalico.org v1", "legacy", v3.LegacyGroupVersion.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := controlplane.Start(t)
			cp.InstallCRDs(t, filepath.Join(repoDir(t), "manifests", "crds", tc.crdDir))
			client := kubernetes.NewForConfigOrDie(cp.Config)
			dyn := dynamic.NewForConfigOrDie(cp.Config)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()

			mustCreate := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"team": "x"}}}, metav1.CreateOptions{})
			mustCreate(err)
			// No controller-manager runs, so create the service account admission wants.
			_, err = client.CoreV1().ServiceAccounts("a").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
			mustCreate(err)
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "a", Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{NodeName: "node1", Containers: []corev1.Container{{Name: "c", Image: "nginx",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}}}}}}
			created, err := client.CoreV1().Pods("a").Create(ctx, pod, metav1.CreateOptions{})
			mustCreate(err)
			created.Status.PodIP, created.Status.PodIPs = "10.0.0.1", []corev1.PodIP{{IP: "10.0.0.1"}}
			_, err = client.CoreV1().Pods("a").UpdateStatus(ctx, created, metav1.UpdateOptions{})
			mustCreate(err)
			np := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": tc.gv, "kind": "NetworkPolicy",
				"metadata": map[string]any{"name": "allow-http", "namespace": "a"},
				"spec": map[string]any{"selector": "app == 'web'", "ingress": []any{map[string]any{
					"action": "Allow", "protocol": "TCP", "destination": map[string]any{"ports": []any{"http"}}}}},
			}}
			gv := v3.SchemeGroupVersion
			if tc.crdDir == "legacy" {
				gv = v3.LegacyGroupVersion
			}
			_, err = dyn.Resource(gv.WithResource("networkpolicies")).Namespace("a").Create(ctx, np, metav1.CreateOptions{})
			mustCreate(err)

			d := k8s.New(client, dyn, client.Discovery(), zaptest.NewLogger(t), k8s.Options{})
			g := calc.New(zaptest.NewLogger(t), "node1")
			st := desired.New()
			events := make(chan datastore.Event, 16)
			runDone := make(chan error, 1)
			go func() { runDone <- d.Run(ctx, events) }()
			defer func() { cancel(); <-runDone }()

			wait := func(what string, cond func() bool) {
				t.Helper()
				for !cond() {
					select {
					case ev := <-events:
						if len(ev.Errors) > 0 {
							t.Errorf("datastore errors: %v", ev.Errors)
						}
						if err := st.ApplyAll(g.Apply(ev.Updates)); err != nil {
							t.Fatal(err)
						}
						if ev.InSync {
							if err := st.ApplyAll(g.InSync()); err != nil {
								t.Fatal(err)
							}
						}
					case <-ctx.Done():
						t.Fatalf("waiting for %s: %v; state has %d endpoints, %d policies", what, ctx.Err(), len(st.Endpoints), len(st.Policies))
					}
				}
			}
			wait("in-sync with the endpoint and its policy", func() bool {
				ep, ok := st.Endpoints["a/web"]
				return st.InSync && ok && len(ep.Tiers) == 1 && len(ep.Tiers[0].IngressPolicies) == 1
			})
			if ep := st.Endpoints["a/web"]; ep.Tiers[0].IngressPolicies[0].Name != "a/allow-http" {
				t.Errorf("endpoint tiers = %+v, want a/allow-http", ep.Tiers)
			}

			// A change after sync: the pod's label no longer matches.
			latest, err := client.CoreV1().Pods("a").Get(ctx, "web", metav1.GetOptions{})
			mustCreate(err)
			latest.Labels["app"] = "other"
			_, err = client.CoreV1().Pods("a").Update(ctx, latest, metav1.UpdateOptions{})
			mustCreate(err)
			wait("the policy to stop applying", func() bool {
				ep, ok := st.Endpoints["a/web"]
				return ok && len(ep.Tiers) == 0 && len(st.Policies) == 0
			})
		})
	}
}
