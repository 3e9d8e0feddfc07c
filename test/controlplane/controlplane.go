// Package controlplane starts a real Kubernetes control plane for tests: Debian's etcd and
// a kube-apiserver built from the Go module proxy (module test/e2e/kube, cached per go.mod).
//
// In: a testing.TB (and optional Options). Out: a running *ControlPlane with an admin
// kubeconfig file, a *rest.Config, a kubectl runner and helpers that install CRDs and wait
// for them to be Established. Everything (processes, temp dirs) is stopped and removed in
// t.Cleanup.
//
// Start skips the test (never fails it) when testing.Short() is set, when etcd is not
// installed, or when kube-apiserver cannot be built; the skip message names the reason.
// Set PALISADE_REQUIRE_CONTROLPLANE=1 to turn those skips into failures (useful in CI), and
// PALISADE_KUBE_APISERVER=/path to use a prebuilt kube-apiserver instead of building one.
// Root is not needed: both processes run as the calling user on loopback ports.
package controlplane

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// ControlPlane is a running etcd plus kube-apiserver owned by one test.
type ControlPlane struct {
	// Kubeconfig is the path of an admin kubeconfig (token in group system:masters).
	Kubeconfig string
	// Config is the admin client configuration; copy it before changing it.
	Config *rest.Config
	// URL is the apiserver's https URL on 127.0.0.1.
	URL string
	// EtcdURL is etcd's client URL on 127.0.0.1.
	EtcdURL string
	// Dir holds the data dirs, keys, logs and kubeconfig; removed at cleanup.
	Dir string

	apiserverLog string
	etcdLog      string
}

// Options tune Start. The zero value is what most tests want.
type Options struct {
	// APIServerArgs are appended to kube-apiserver's command line (later flags win).
	APIServerArgs []string
	// ReadyTimeout bounds the wait for etcd and for the apiserver's /readyz each
	// (default 90s).
	ReadyTimeout time.Duration
}

// Start starts etcd and kube-apiserver for t with default options. See StartWithOptions.
func Start(t testing.TB) *ControlPlane {
	t.Helper()
	return StartWithOptions(t, Options{})
}

// StartWithOptions starts etcd and kube-apiserver, waits until the apiserver is ready and
// registers their shutdown with t.Cleanup. It skips t when the prerequisites are missing.
func StartWithOptions(t testing.TB, opts Options) *ControlPlane {
	t.Helper()
	if testing.Short() {
		t.Skip("control plane tests skipped in -short mode")
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 90 * time.Second
	}
	etcdBin, err := findEtcd()
	if err != nil {
		skipOrFail(t, "etcd not available (apt-get install etcd-server): %v", err)
	}
	buildStart := time.Now()
	apiserverBin, built, err := apiserverBinary(t.Logf)
	if err != nil {
		skipOrFail(t, "kube-apiserver not available: %v", err)
	}
	if built {
		t.Logf("controlplane: built %s in %s", apiserverBin, time.Since(buildStart).Round(time.Second))
	}

	startedAt := time.Now()
	cp := &ControlPlane{Dir: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*opts.ReadyTimeout+30*time.Second)
	defer cancel()

	etcd, err := cp.startEtcd(ctx, etcdBin, opts.ReadyTimeout)
	if err != nil {
		t.Fatalf("controlplane: %v", err)
	}
	t.Cleanup(func() { stopProcess(t, "etcd", etcd) })

	apiserver, err := cp.startAPIServer(ctx, t.Logf, apiserverBin, opts)
	if err != nil {
		t.Fatalf("controlplane: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("controlplane: kube-apiserver log tail:\n%s", tailFile(cp.apiserverLog, 30))
		}
		stopProcess(t, "kube-apiserver", apiserver)
	})
	t.Logf("controlplane: etcd %s and kube-apiserver %s ready in %s",
		cp.EtcdURL, cp.URL, time.Since(startedAt).Round(100*time.Millisecond))
	return cp
}

// skipOrFail skips t, or fails it when PALISADE_REQUIRE_CONTROLPLANE is set.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("PALISADE_REQUIRE_CONTROLPLANE") != "" {
		t.Fatalf("controlplane required (PALISADE_REQUIRE_CONTROLPLANE set) but "+format, args...)
	}
	t.Skipf(format, args...)
}

// path returns a file name inside the control plane's directory.
func (cp *ControlPlane) path(name string) string { return filepath.Join(cp.Dir, name) }

// LogTail returns the last n lines of the apiserver's log, for failure messages.
func (cp *ControlPlane) LogTail(n int) string { return tailFile(cp.apiserverLog, n) }
