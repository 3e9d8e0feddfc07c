package apiserver

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/palisadenet/palisade/test/controlplane"
)

const moduleLine = "module github.com/palisadenet/palisade\n"

// repoRoot walks up from the working directory to the main module's root.
func repoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte(moduleLine)) {
			return dir
		}
		if filepath.Dir(dir) == dir {
			t.Fatalf("no go.mod of github.com/palisadenet/palisade above %s", wd)
		}
	}
}

// startWithCRDs starts a control plane and installs both CRD sets (projectcalico.org/v3
// and the legacy crd.projectcalico.org/v1).
func startWithCRDs(t *testing.T) *controlplane.ControlPlane {
	t.Helper()
	root := repoRoot(t)
	controlplane.RequireKubectl(t)
	dirs := []string{
		filepath.Join(root, "manifests", "crds", "v3"),
		filepath.Join(root, "manifests", "crds", "legacy"),
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); err != nil {
			t.Fatalf("CRD directory missing (run make generate): %v", err)
		}
	}
	cp := controlplane.Start(t)
	for _, d := range dirs {
		cp.InstallCRDs(t, d)
	}
	installAdmissionPolicies(t, cp, filepath.Join(root, "manifests", "crds", "admission"))
	return cp
}

// installAdmissionPolicies applies the ValidatingAdmissionPolicies that back the CRDs
// (checks a CRD schema cannot make on every supported apiserver) and waits until the
// apiserver enforces them: policies load asynchronously after they are created.
func installAdmissionPolicies(t *testing.T, cp *controlplane.ControlPlane, dir string) {
	t.Helper()
	if _, err := os.Stat(dir); err != nil {
		t.Logf("no admission policies (%v)", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	if _, err := cp.Kubectl(ctx, nil, "apply", "-f", dir); err != nil {
		t.Fatalf("applying admission policies: %v", err)
	}
	// A port range with min > max passes the CRD schema; only the policy refuses it.
	const probe = `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: admission-probe
  namespace: default
spec:
  ingress:
  - action: Allow
    protocol: TCP
    destination:
      ports: ["2:1"]
`
	for {
		_, err := cp.Kubectl(ctx, strings.NewReader(probe), "create", "--dry-run=server", "-f", "-")
		if err != nil && strings.Contains(err.Error(), "ValidatingAdmissionPolicy") {
			t.Logf("admission policies from %s enforced after %s", dir, time.Since(start).Round(10*time.Millisecond))
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("admission policies in %s not enforced after %s (last probe: %v)", dir, time.Since(start), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ensureNamespace creates namespace ns unless it exists.
func ensureNamespace(ctx context.Context, t *testing.T, cp *controlplane.ControlPlane, ns string) {
	t.Helper()
	clients, err := kubernetes.NewForConfig(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	_, err = clients.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating namespace %s: %v", ns, err)
	}
}
