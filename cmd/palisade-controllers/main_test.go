package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/routing/ipam"
	"github.com/palisadenet/palisade/test/controlplane"
)

// TestBinary installs manifests/palisade.yaml with kubectl on the real apiserver and
// runs the built palisade-controllers as its service account (a kubeconfig that
// impersonates it): it takes the Lease, serves /healthz, releases the address of a
// deleted pod, and on SIGTERM exits 0 and gives the Lease up.
func TestBinary(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("go toolchain not in $PATH: %v", err)
	}
	controlplane.RequireKubectl(t)
	cp := controlplane.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := cp.Kubectl(ctx, nil, "apply", "-f", "../../manifests/palisade.yaml"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	admin, err := kubernetes.NewForConfig(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	handle := leakAnAddress(ctx, t, cp, admin)

	bin := filepath.Join(t.TempDir(), "palisade-controllers")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	healthAddr := freeAddr(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"KUBECONFIG="+serviceAccountKubeconfig(t, cp),
		"LEADER_ELECTION_NAMESPACE=kube-system", "POD_NAME=controllers-test",
		"IPAM_GC_GRACE=2s", "IPAM_GC_PERIOD=1s", "HEALTH_ADDR="+healthAddr, "LOG_LEVEL=debug")
	logPath := filepath.Join(t.TempDir(), "controllers.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("palisade-controllers log:\n%s", out)
		}
	})

	store, err := ipam.NewKubernetesStore(cp.Config, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the deleted pod's handle released", func() error {
		_, err := store.Handles().Get(ctx, ipam.HandleName(handle))
		if errors.Is(err, ipam.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("handle still there (%v)", err)
	})
	eventually(t, 10*time.Second, "/healthz answers ok", func() error {
		resp, err := http.Get("http://" + healthAddr + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	})
	lease, err := admin.CoordinationV1().Leases("kube-system").Get(ctx, "palisade-controllers", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != "controllers-test" {
		t.Fatalf("lease %+v (%v); want it held by controllers-test", lease, err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v; want status 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("still running 15s after SIGTERM")
	}
	lease, err = admin.CoordinationV1().Leases("kube-system").Get(ctx, "palisade-controllers", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "" {
		t.Errorf("lease after SIGTERM: holder %v (%v); want released", lease.Spec.HolderIdentity, err)
	}
}

// leakAnAddress assigns an address to a pod, as the CNI would, then deletes the pod
// without the CNI's DEL. It returns the handle.
func leakAnAddress(ctx context.Context, t *testing.T, cp *controlplane.ControlPlane, admin kubernetes.Interface) string {
	t.Helper()
	if _, err := admin.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "leaky", Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c", Image: "pause"}}}}
	if _, err := admin.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	store, err := ipam.NewKubernetesStore(cp.Config, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreatePool(ctx, &v3.IPPool{TypeMeta: metav1.TypeMeta{APIVersion: v3.SchemeGroupVersion.String(), Kind: v3.KindIPPool},
		ObjectMeta: metav1.ObjectMeta{Name: "pool"}, Spec: v3.IPPoolSpec{CIDR: "10.2.0.0/24"}}); err != nil {
		t.Fatal(err)
	}
	const handle = "k8s-pod-network.0123456789ab"
	if _, err := ipam.New(store, zaptest.NewLogger(t)).Assign(ctx, ipam.AssignArgs{Handle: handle, Node: "node-1", Num4: 1,
		Attrs: map[string]string{ipam.AttrNamespace: "default", ipam.AttrPod: "leaky", ipam.AttrNode: "node-1"}}); err != nil {
		t.Fatal(err)
	}
	zero := int64(0)
	if err := admin.CoreV1().Pods("default").Delete(ctx, "leaky", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	return handle
}

// serviceAccountKubeconfig writes the admin kubeconfig with impersonation of the
// palisade-controllers service account, so the binary has exactly its rights.
func serviceAccountKubeconfig(t *testing.T, cp *controlplane.ControlPlane) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(cp.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = "system:serviceaccount:kube-system:palisade-controllers"
		auth.ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"}
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func eventually(t *testing.T, limit time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, limit, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
