package ctl

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/palisadenet/palisade/test/controlplane"
)

// harness runs palisadectl against one datastore.
type harness struct {
	t    *testing.T
	name string
	env  Env
	// dir is the file datastore directory ("" for the Kubernetes backend).
	dir string
	// cp is the control plane of the Kubernetes backend.
	cp *controlplane.ControlPlane
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// fixedNow is the clock of every test run: creation timestamps in goldens use it.
var fixedNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func envOf(vars map[string]string) Env {
	uid := 0
	return Env{
		Getenv: func(k string) string { return vars[k] },
		Now:    func() time.Time { return fixedNow },
		NewUID: func() string {
			uid++
			return fmt.Sprintf("00000000-0000-4000-8000-%012d", uid)
		},
		DefaultConfig: "/nonexistent/palisadectl.cfg",
	}
}

// fileHarness is a fresh, empty file datastore.
func fileHarness(t *testing.T) *harness {
	dir := t.TempDir()
	return &harness{t: t, name: "file", dir: dir, env: envOf(map[string]string{"DATASTORE_TYPE": "file", "DATASTORE_DIR": dir})}
}

func (h *harness) run(stdin string, args ...string) result {
	h.t.Helper()
	var out, errOut bytes.Buffer
	code := MainWithEnv(args, strings.NewReader(stdin), &out, &errOut, h.env)
	return result{code, out.String(), errOut.String()}
}

// mustRun runs and fails the test unless the command succeeds.
func (h *harness) mustRun(args ...string) string {
	h.t.Helper()
	r := h.run("", args...)
	if r.code != 0 {
		h.t.Fatalf("palisadectl %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// manifestFiles lists the datastore's manifest files relative to its directory
// (hidden files excluded, as the file datastore excludes them).
func (h *harness) manifestFiles() []string {
	h.t.Helper()
	var out []string
	err := filepath.Walk(h.dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(h.dir, p)
		if strings.HasPrefix(info.Name(), ".") && p != h.dir {
			if info.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !info.IsDir() {
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// repoDir is the repository root.
func repoDir(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot find the test's source directory")
	}
	return filepath.Join(filepath.Dir(file), "..")
}

// kubeHarness starts a real kube-apiserver with the CRDs of crdSet ("v3" or
// "legacy") installed; it skips (with the reason) where no control plane can run.
func kubeHarness(t *testing.T, crdSet string) *harness {
	cp := controlplane.Start(t)
	cp.InstallCRDs(t, filepath.Join(repoDir(t), "manifests", "crds", crdSet))
	clients, err := kubernetes.NewForConfig(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, ns := range []string{"production", "prod"} {
		_, err := clients.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("creating namespace %s: %v", ns, err)
		}
	}
	controlplane.RequireKubectl(t)
	return &harness{t: t, name: "kubernetes " + crdSet, cp: cp, env: envOf(map[string]string{"KUBECONFIG": cp.Kubeconfig})}
}

// serverFields are metadata lines only a real API server fills in differently each run.
var serverFields = regexp.MustCompile(`(?m)^\s*"?(creationTimestamp|resourceVersion|uid|generation)"?: .*\n`)

// normalise drops server-assigned metadata so file and Kubernetes outputs compare.
func normalise(s string) string { return serverFields.ReplaceAllString(s, "") }

// checkStoredGroup creates the example again and checks with kubectl that it is stored
// in the group the CRD set serves, then deletes it.
func checkStoredGroup(t *testing.T, h *harness, set string, ex example) {
	t.Helper()
	group := "projectcalico.org"
	if set == "legacy" {
		group = "crd.projectcalico.org"
	}
	h.mustRun("create", "-f", ex.path)
	defer h.mustRun("delete", "-f", ex.path)
	args := []string{"get", ex.kind.Plural + "." + group, ex.name, "-o", "jsonpath={.apiVersion}"}
	if ex.kind.Namespaced {
		args = append(args, "-n", ex.ns)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := h.cp.Kubectl(ctx, nil, args...)
	if err != nil {
		t.Fatalf("kubectl %v: %v", args, err)
	}
	if !strings.HasPrefix(out, group+"/") {
		t.Errorf("stored as %q, want group %s", out, group)
	}
}
