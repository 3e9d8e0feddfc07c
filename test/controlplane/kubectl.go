package controlplane

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// RequireKubectl skips t when no kubectl is in $PATH and returns its path otherwise.
func RequireKubectl(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skipf("kubectl not in $PATH: %v", err)
	}
	return p
}

// KubectlError is a failed kubectl run; Stderr carries the apiserver's message.
type KubectlError struct {
	Args   []string
	Stderr string
	Err    error
}

func (e *KubectlError) Error() string {
	return fmt.Sprintf("kubectl %s: %v: %s", strings.Join(e.Args, " "), e.Err, strings.TrimSpace(e.Stderr))
}

func (e *KubectlError) Unwrap() error { return e.Err }

// Kubectl runs kubectl against the control plane with the admin kubeconfig and a private
// discovery cache. stdin may be nil. A non-zero exit is a *KubectlError.
func (cp *ControlPlane) Kubectl(ctx context.Context, stdin io.Reader, args ...string) (stdout string, err error) {
	full := append([]string{"--kubeconfig=" + cp.Kubeconfig, "--cache-dir=" + cp.path("kubectl-cache")}, args...)
	cmd := exec.CommandContext(ctx, "kubectl", full...)
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), &KubectlError{Args: args, Stderr: errOut.String(), Err: err}
	}
	return out.String(), nil
}
