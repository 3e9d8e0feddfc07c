package ctl

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the current output")

// checkGolden compares got with testdata/golden/<name>, or rewrites it under -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := readGolden(t, name)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

// readGolden returns testdata/golden/<name>.
func readGolden(t *testing.T, name string) string {
	t.Helper()
	want, err := os.ReadFile(filepath.Join("testdata", "golden", name))
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	return string(want)
}

func run(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = Main(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

const cluster = "testdata/cluster"

// TestPolicyGolden pins the text users read: the matrix table and JSON, traces that
// end in each kind of decision, and the help texts with their examples.
func TestPolicyGolden(t *testing.T) {
	tests := []struct {
		golden string
		args   []string
	}{
		{"matrix-tcp-6379.txt", []string{"policy", "matrix", "-f", cluster, "--port", "6379"}},
		{"matrix-tcp-9090.txt", []string{"policy", "matrix", "-f", cluster, "--port", "9090", "--protocol", "TCP", "-o", "table"}},
		{"matrix-tcp-8080.json", []string{"policy", "matrix", "-f", cluster, "--port", "8080", "-o", "json"}},
		{"matrix-udp-53.json", []string{"policy", "matrix", "-f", cluster, "--port", "53", "--protocol", "udp", "-o", "json"}},
		{"trace-allowed-by-k8s-rule.txt", []string{"policy", "trace", "-f", cluster, "--from", "shop/frontend", "--to", "shop/db", "--port", "6379"}},
		{"trace-denied-by-v3-rule.txt", []string{"policy", "trace", "-f", cluster, "--from", "monitoring/prometheus", "--to", "shop/frontend", "--port", "6379"}},
		{"trace-allowed-in-first-tier.txt", []string{"policy", "trace", "-f", cluster, "--from", "monitoring/prometheus", "--to", "shop/db", "--port", "9090"}},
		{"trace-tier-end-drop.txt", []string{"policy", "trace", "-f", cluster, "--from", "shop/db", "--to", "shop/frontend", "--port", "9999"}},
		{"trace-default-tier-end-drop.txt", []string{"policy", "trace", "-f", cluster, "--from", "shop/frontend", "--to", "shop/db", "--port", "8080"}},
		{"trace-namespace-profile.txt", []string{"policy", "trace", "-f", cluster, "--from", "shop/db", "--to", "monitoring/prometheus", "--port", "53", "--protocol", "UDP"}},
		{"help-policy.txt", []string{"policy", "--help"}},
		{"help-matrix.txt", []string{"policy", "matrix", "--help"}},
		{"help-trace.txt", []string{"policy", "trace", "--help"}},
	}
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			code, stdout, stderr := run(tc.args...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			checkGolden(t, tc.golden, stdout)
		})
	}
}

func TestHelpHasExamples(t *testing.T) {
	for _, sub := range []string{"matrix", "trace"} {
		_, stdout, _ := run("policy", sub, "--help")
		if !strings.Contains(stdout, "Examples:\n  # ") || !strings.Contains(stdout, "palisadectl policy "+sub+" -f") {
			t.Errorf("policy %s --help lacks examples:\n%s", sub, stdout)
		}
	}
}

// TestPolicyCommandErrors: every user mistake exits 1 with a message saying what is
// wrong, and prints nothing on stdout.
func TestPolicyCommandErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec: {containers: [{name: c, ports: [{containerPort: 80, hostPrt: 1}]}]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"port missing", []string{"policy", "matrix", "-f", cluster}, `required flag(s) "port" not set`},
		{"port out of range", []string{"policy", "matrix", "-f", cluster, "--port", "70000"}, "--port 70000 out of range 1-65535"},
		{"port zero", []string{"policy", "trace", "-f", cluster, "--port", "0", "--from", "shop/db", "--to", "shop/db"}, "--port 0 out of range 1-65535"},
		{"ICMP has no ports", []string{"policy", "matrix", "-f", cluster, "--port", "80", "--protocol", "ICMP"}, `--protocol "ICMP": want TCP, UDP or SCTP`},
		{"unknown protocol", []string{"policy", "matrix", "-f", cluster, "--port", "80", "--protocol", "QUIC"}, `--protocol "QUIC": want TCP, UDP or SCTP`},
		{"bad output", []string{"policy", "matrix", "-f", cluster, "--port", "80", "-o", "yaml"}, `-o "yaml": want table or json`},
		{"missing file", []string{"policy", "matrix", "-f", "testdata/nope.yaml", "--port", "80"}, "reading testdata/nope.yaml: "},
		{"unknown field", []string{"policy", "matrix", "-f", bad, "--port", "80"}, bad + ": document 1 (Pod shop/p): spec.containers[0].ports[0].hostPrt: unknown field"},
		{"unknown pod", []string{"policy", "trace", "-f", cluster, "--from", "shop/nope", "--to", "shop/db", "--port", "80"}, `source pod "shop/nope" not found`},
		{"pod without namespace", []string{"policy", "trace", "-f", cluster, "--from", "db", "--to", "shop/db", "--port", "80"}, `pod "db": want namespace/name`},
		{"stray argument", []string{"policy", "matrix", "-f", cluster, "--port", "80", "extra"}, `unknown command "extra"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(tc.args...)
			if code != 1 || stdout != "" || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and stderr containing %q", code, stdout, stderr, tc.want)
			}
		})
	}
}

func TestMatrixFromStdin(t *testing.T) {
	policies, err := os.ReadFile(filepath.Join(cluster, "20-policies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var fromStdin, fromDir bytes.Buffer
	code := Main([]string{"policy", "matrix", "-f", filepath.Join(cluster, "00-namespaces.yaml"), "-f", filepath.Join(cluster, "10-pods.yaml"), "-f", "-", "--port", "6379", "-o", "json"},
		bytes.NewReader(policies), &fromStdin, os.Stderr)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	Main([]string{"policy", "matrix", "-f", cluster, "--port", "6379", "-o", "json"}, nil, &fromDir, os.Stderr)
	if fromStdin.String() != fromDir.String() {
		t.Errorf("stdin and directory disagree:\n%s\n%s", fromStdin.String(), fromDir.String())
	}
}
