package controlplane

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeModule(t *testing.T, dir, gomod string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), []byte("sums\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBinaryNameFollowsBuildModule(t *testing.T) {
	dir := t.TempDir()
	writeModule(t, dir, "module x\n\nrequire k8s.io/kubernetes v1.33.13\n")
	first, err := binaryName(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first, "kube-apiserver-v1.33.13-") {
		t.Errorf("binaryName = %q, want prefix kube-apiserver-v1.33.13-", first)
	}
	again, _ := binaryName(dir)
	if again != first {
		t.Errorf("binaryName not stable: %q then %q", first, again)
	}
	writeModule(t, dir, "module x\n\nrequire k8s.io/kubernetes v1.33.13\n\nreplace k8s.io/api => k8s.io/api v0.33.13\n")
	changed, _ := binaryName(dir)
	if changed == first {
		t.Errorf("binaryName unchanged (%q) after go.mod changed: the stale binary would be reused", changed)
	}
	writeModule(t, dir, "module x\n")
	if _, err := binaryName(dir); err == nil {
		t.Error("binaryName of a module without k8s.io/kubernetes: want error")
	}
}

// The committed build module must name a Kubernetes version (the cache key).
func TestBuildModuleIsCommitted(t *testing.T) {
	dir, err := kubeModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	name, err := binaryName(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(name, "kube-apiserver-v1.") {
		t.Errorf("binaryName = %q", name)
	}
}

func TestLockFileSerializes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := lockFile(path, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	acquired := make(chan struct{})
	waited := false
	go func() {
		second, err := lockFile(path, func(string, ...any) { waited = true })
		if err != nil {
			t.Error(err)
		} else {
			second()
		}
		close(acquired)
	}()
	select {
	case <-acquired:
		t.Fatal("second lockFile returned while the first holder still had the lock")
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	select {
	case <-acquired:
	case <-time.After(5 * time.Second):
		t.Fatal("second lockFile did not get the lock after unlock")
	}
	if !waited {
		t.Error("second lockFile did not report that it waited")
	}
}

func TestReadCRDs(t *testing.T) {
	crds, err := ReadCRDs("testdata/crds")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range crds {
		names = append(names, c.Name)
	}
	if got, want := strings.Join(names, ","), "widgets.test.palisade.dev,gadgets.test.palisade.dev"; got != want {
		t.Errorf("ReadCRDs names = %s, want %s", got, want)
	}
	_, err = ReadCRDs("testdata/notcrds")
	if err == nil || !strings.Contains(err.Error(), `kind "ConfigMap"`) {
		t.Errorf("ReadCRDs(notcrds) err = %v, want one naming kind ConfigMap", err)
	}
	if _, err := ReadCRDs("testdata/missing"); err == nil {
		t.Error("ReadCRDs(missing dir): want error")
	}
}

func TestReadyzSummary(t *testing.T) {
	tests := []struct{ body, want string }{
		{"[+]ping ok\n[-]etcd failed: reason withheld\n[-]poststarthook/rbac failed\nreadyz check failed", "failing [-]etcd [-]poststarthook/rbac"},
		{"connection refused", "connection refused"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := readyzSummary(tt.body); got != tt.want {
			t.Errorf("readyzSummary(%q) = %q, want %q", tt.body, got, tt.want)
		}
	}
}
