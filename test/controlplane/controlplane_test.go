package controlplane

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// TestControlPlane starts a real control plane, uses it the way later tests will, and
// checks that cleanup stops both processes and removes the directory.
func TestControlPlane(t *testing.T) {
	var cp *ControlPlane
	t.Run("running", func(t *testing.T) {
		cp = Start(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		clients, err := kubernetes.NewForConfig(cp.Config)
		if err != nil {
			t.Fatal(err)
		}
		t.Run("version", func(t *testing.T) {
			v, err := clients.Discovery().ServerVersion()
			if err != nil {
				t.Fatalf("server version: %v", err)
			}
			if !strings.HasPrefix(v.GitVersion, "v1.") {
				t.Errorf("GitVersion = %q, want v1.x", v.GitVersion)
			}
		})
		t.Run("kubeconfig works with kubectl", func(t *testing.T) {
			RequireKubectl(t)
			out, err := cp.Kubectl(ctx, nil, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
			if err != nil {
				t.Fatal(err)
			}
			if out != AdminUser {
				t.Errorf("kubectl auth whoami = %q, want %q", out, AdminUser)
			}
		})
		t.Run("service-account tokens and RBAC", func(t *testing.T) {
			testServiceAccountAuth(ctx, t, cp, clients)
		})
		t.Run("CRDs", func(t *testing.T) { testCRDs(ctx, t, cp) })
	})
	if cp == nil || cp.Config == nil {
		t.Skip("control plane did not start")
	}
	if _, err := os.Stat(cp.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control plane dir %s still exists after cleanup (stat: %v)", cp.Dir, err)
	}
	for _, raw := range []string{cp.URL, cp.EtcdURL} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if conn, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after cleanup", raw)
		}
	}
}

// testServiceAccountAuth proves the service-account keys work (a TokenRequest token
// authenticates) and RBAC is on (that identity may not list pods).
func testServiceAccountAuth(ctx context.Context, t *testing.T, cp *ControlPlane, clients kubernetes.Interface) {
	ns := waitForNamespace(ctx, t, clients, "default")
	sa, err := clients.CoreV1().ServiceAccounts(ns).Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "probe"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating service account: %v", err)
	}
	tr, err := clients.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa.Name,
		&authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("requesting token: %v", err)
	}
	listPods := func(token string) error {
		cfg := rest.AnonymousClientConfig(cp.Config)
		cfg.BearerToken = token
		c, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		return err
	}
	if err := listPods(tr.Status.Token); !apierrors.IsForbidden(err) {
		t.Errorf("service account listing pods: err = %v, want Forbidden (authenticated, no RBAC grant)", err)
	}
	if err := listPods("not-a-token"); !apierrors.IsUnauthorized(err) {
		t.Errorf("bogus token listing pods: err = %v, want Unauthorized", err)
	}
	if err := listPods(cp.Config.BearerToken); err != nil {
		t.Errorf("admin listing pods: %v", err)
	}
}

// waitForNamespace waits for a namespace the apiserver bootstraps itself.
func waitForNamespace(ctx context.Context, t *testing.T, clients kubernetes.Interface, name string) string {
	t.Helper()
	for {
		_, err := clients.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			return name
		}
		select {
		case <-ctx.Done():
			t.Fatalf("namespace %s never appeared: %v", name, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func testCRDs(ctx context.Context, t *testing.T, cp *ControlPlane) {
	names := cp.InstallCRDs(t, "testdata/crds")
	want := []string{"widgets.test.palisade.dev", "gadgets.test.palisade.dev"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("InstallCRDs = %v, want %v", names, want)
	}
	// Installing again updates in place.
	if again := cp.InstallCRDs(t, "testdata/crds"); len(again) != 2 {
		t.Fatalf("second InstallCRDs = %v", again)
	}
	dyn, err := dynamic.NewForConfig(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	widgets := dyn.Resource(schema.GroupVersionResource{Group: "test.palisade.dev", Version: "v1", Resource: "widgets"}).Namespace("default")
	widget := func(name string, size int64) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "test.palisade.dev/v1", "kind": "Widget",
			"metadata": map[string]any{"name": name},
			"spec":     map[string]any{"size": size},
		}}
	}
	if _, err := widgets.Create(ctx, widget("ok", 5), metav1.CreateOptions{}); err != nil {
		t.Errorf("creating a valid widget: %v", err)
	}
	_, err = widgets.Create(ctx, widget("too-big", 11), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.size") {
		t.Errorf("creating widget with size 11: err = %v, want Invalid naming spec.size", err)
	}
}
