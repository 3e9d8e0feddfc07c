package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary act as palisadectl, so the tests below check the real
// process: its exit code and streams.
func TestMain(m *testing.M) {
	if os.Getenv("PALISADECTL_BE_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func runMain(t *testing.T, dir, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PALISADECTL_BE_MAIN=1", "DATASTORE_TYPE=file", "DATASTORE_DIR="+dir)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

func TestProcessExitCodes(t *testing.T) {
	dir := t.TempDir()
	pool := "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/24}\n"
	if code, out, errOut := runMain(t, dir, pool, "apply", "-f", "-"); code != 0 || out != "Successfully applied 1 'IPPool' resource(s)\n" {
		t.Fatalf("apply: exit %d, %q, %q", code, out, errOut)
	}
	bad := "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: q}\nspec: {cidr: 10.0.0.0/33}\n"
	code, out, errOut := runMain(t, dir, bad, "apply", "-f", "-")
	if code != 1 || out != "" || errOut != "Error: nothing was applied:\n  -: document 1 (IPPool q): spec.cidr: Invalid value: \"10.0.0.0/33\": cidr must be a valid IPv4 or IPv6 CIDR such as 10.244.0.0/16\n" {
		t.Errorf("bad CIDR: exit %d, %q, %q", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "ippool", "q.yaml")); !os.IsNotExist(err) {
		t.Errorf("the invalid pool was written: %v", err)
	}
	code, out, _ = runMain(t, dir, "", "node", "status", "--socket", filepath.Join(dir, "none.sock"))
	if code != 1 || out != "Palisade process is not running.\n" {
		t.Errorf("node status without an agent: exit %d, %q", code, out)
	}
}
