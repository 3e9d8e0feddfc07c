package ctl

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisadenet/palisade/agent/statusapi"
	"github.com/palisadenet/palisade/routing/bgp"
)

// TestNodeStatus serves a status on a Unix socket as palisade-node does and checks the
// table node status prints, and the not-running message when nothing listens.
func TestNodeStatus(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "status.sock")
	peers := []bgp.PeerStatus{
		{Address: netip.MustParseAddr("192.168.40.112"), Type: bgp.TypeMesh, State: "up",
			Since: time.Date(2026, 3, 4, 2, 5, 49, 0, time.UTC), Info: "Established"},
		{Address: netip.MustParseAddr("fd00::1"), Type: bgp.TypeGlobal, State: "start",
			Since: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), Info: "Active"},
	}
	var mu sync.Mutex
	var served []bgp.PeerStatus
	serve := func(p []bgp.PeerStatus) {
		mu.Lock()
		defer mu.Unlock()
		served = p
	}
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: bgp.StatusHandler(func(context.Context) ([]bgp.PeerStatus, error) {
		mu.Lock()
		defer mu.Unlock()
		return served, nil
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	h := fileHarness(t)
	serve(peers[:1])
	r := h.run("", "node", "status", "--socket", socket)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("node status: %s", r)
	}
	checkGolden(t, "node-status-ipv4.txt", r.stdout)
	// The shape users know (../shared/examples/node-status.txt), with our name.
	for _, line := range []string{
		"Palisade process is running.",
		"IPv4 BGP status",
		"|  PEER ADDRESS  |     PEER TYPE     | STATE |  SINCE   |    INFO     |",
		"| 192.168.40.112 | node-to-node mesh | up    | 02:05:49 | Established |",
		"IPv6 BGP status\nNo IPv6 peers found.",
	} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("node status lacks %q:\n%s", line, r.stdout)
		}
	}
	serve(peers)
	checkGolden(t, "node-status-both.txt", h.mustRun("node", "status", "--socket", socket))

	r = h.run("", "node", "status", "--socket", filepath.Join(t.TempDir(), "none.sock"))
	if r.code != 1 || r.stdout != "Palisade process is not running.\n" || r.stderr != "" {
		t.Errorf("node status without an agent: want exit 1 and the not-running line only, got %s", r)
	}
}

func TestVersion(t *testing.T) {
	h := fileHarness(t)
	if out := h.mustRun("version", "--client"); out != "Client Version: dev\n" {
		t.Errorf("version --client: %q", out)
	}
	info := "apiVersion: projectcalico.org/v3\nkind: ClusterInformation\nmetadata:\n  name: default\nspec:\n  calicoVersion: v3.29.1\n  clusterType: k8s,bgp,kdd\n"
	if r := h.run(info, "create", "-f", "-"); r.code != 0 {
		t.Fatal(r)
	}
	r := h.run("", "version", "--allow-version-mismatch")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("version: %s", r)
	}
	want := "Client Version: dev\nCluster Version: v3.29.1\nCluster Type: k8s,bgp,kdd\nDatastore: file " + h.dir + "\n"
	if r.stdout != want {
		t.Errorf("version:\n%s\nwant:\n%s", r.stdout, want)
	}
	// An unreachable datastore still prints the client version, and says why not more.
	bad := &harness{t: t, env: envOf(map[string]string{"DATASTORE_TYPE": "file", "DATASTORE_DIR": "/nonexistent/dir"})}
	r = bad.run("", "version")
	if r.code != 0 || r.stdout != "Client Version: dev\n" || !strings.Contains(r.stderr, "cannot read the cluster version") {
		t.Errorf("version without a datastore: %s", r)
	}
}

// TestConfigFile: a CalicoAPIConfig file (calicoctl.cfg) chooses the datastore.
func TestConfigFile(t *testing.T) {
	h := fileHarness(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	head := "apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nmetadata:\nspec:\n"
	good := write("file.cfg", head+"  datastoreType: file\n  datastoreDir: '"+h.dir+"'\n")
	// The environment points elsewhere: the file wins.
	other := &harness{t: t, env: envOf(map[string]string{"DATASTORE_TYPE": "file", "DATASTORE_DIR": "/nonexistent"})}
	if r := other.run("", "--config", good, "apply", "-f", filepath.Join(examplesDir, "ippool-v3.yaml")); r.code != 0 {
		t.Fatalf("apply with --config: %s", r)
	}
	if out := h.mustRun("get", "ippool", "-o", "name"); out != "ippool.projectcalico.org/pool1\n" {
		t.Errorf("the object went elsewhere: %q", out)
	}
	// The default path is read when --config is not given.
	other.env.DefaultConfig = good
	if out := other.mustRun("get", "ippool", "-o", "name"); out != "ippool.projectcalico.org/pool1\n" {
		t.Errorf("default config not read: %q", out)
	}
	tests := []struct{ name, text, want string }{
		{"etcd", head + "  datastoreType: etcdv3\n  etcdEndpoints: http://127.0.0.1:2379\n", "etcdv3 is not supported"},
		{"unknown field", head + "  datastoreTyp: file\n", `unknown field "spec.datastoreTyp"`},
		{"file without dir", head + "  datastoreType: file\n", "datastoreType file needs datastoreDir"},
		{"wrong kind", "apiVersion: projectcalico.org/v3\nkind: IPPool\nspec: {}\n", "kind: want CalicoAPIConfig"},
		{"kubeconfig missing", head + "  datastoreType: kubernetes\n  kubeconfig: /nonexistent/admin.conf\n", "/nonexistent/admin.conf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := other.run("", "--config", write(tc.name+".cfg", tc.text), "get", "ippools")
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("want exit 1 and %q, got %s", tc.want, r)
			}
		})
	}
}

// TestPolicyFromDatastore: trace and matrix read the same objects from a file
// datastore as from -f files, and give the same answers.
func TestPolicyFromDatastore(t *testing.T) {
	h := fileHarness(t)
	files, err := filepath.Glob(filepath.Join(cluster, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cluster files: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(h.dir, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	checkGolden(t, "matrix-tcp-6379.txt", h.mustRun("policy", "matrix", "--port", "6379"))
	checkGolden(t, "trace-denied-by-v3-rule.txt", h.mustRun("policy", "trace", "--from", "monitoring/prometheus", "--to", "shop/frontend", "--port", "6379"))
	checkGolden(t, "trace-allowed-by-k8s-rule.txt", h.mustRun("policy", "trace", "--from", "shop/frontend", "--to", "shop/db", "--port", "6379"))
}

// TestHelpExamples: every command has examples in its help.
func TestHelpExamples(t *testing.T) {
	root := newRoot(strings.NewReader(""), &strings.Builder{}, &strings.Builder{}, Env{})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no examples", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	h := fileHarness(t)
	for _, args := range [][]string{{"get", "--help"}, {"apply", "--help"}, {"ipam", "show", "--help"}, {"node", "status", "--help"}} {
		if out := h.mustRun(args...); !strings.Contains(out, "Examples:\n  palisadectl ") && !strings.Contains(out, "Examples:\n  sudo palisadectl ") {
			t.Errorf("%v lacks examples:\n%s", args, out)
		}
	}
	checkGolden(t, "help-get.txt", h.mustRun("get", "--help"))
}

// TestCompletion: the scripts generate, and kinds complete.
func TestCompletion(t *testing.T) {
	h := fileHarness(t)
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		if out := h.mustRun("completion", sh); !strings.Contains(out, "palisadectl") {
			t.Errorf("completion %s: no script", sh)
		}
	}
	out := h.mustRun("__complete", "get", "")
	for _, k := range []string{"ippool\n", "networkpolicy\n", "globalnetworkpolicy\n"} {
		if !strings.Contains(out, k) {
			t.Errorf("get completion lacks %q:\n%s", k, out)
		}
	}
}

// node policy shows what the agent enforces and every rejected object, and exits 1
// when there is one.
func TestNodePolicy(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "status.sock")
	var mu sync.Mutex
	doc := statusapi.PolicyStatus{InSync: true, LocalEndpoints: 3, ActivePolicies: 2, Sets: 4}
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(statusapi.PolicyStatusPath, func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_ = json.NewEncoder(w).Encode(doc)
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	h := fileHarness(t)
	r := h.run("", "node", "policy", "--socket", socket)
	if r.code != 0 || !strings.Contains(r.stdout, "Active policies:  2") || !strings.Contains(r.stdout, "Rejected objects: none") {
		t.Fatalf("node policy with nothing rejected: %s", r)
	}
	mu.Lock()
	doc.Invalid = []statusapi.InvalidObject{{Object: "NetworkPolicy prod/bad", Problems: []string{"spec.selector: unexpected end"}}}
	mu.Unlock()
	r = h.run("", "node", "policy", "--socket", socket)
	if r.code != 1 || !strings.Contains(r.stdout, "NetworkPolicy prod/bad\n    spec.selector: unexpected end") {
		t.Fatalf("node policy with a rejected object: %s", r)
	}
	r = h.run("", "node", "policy", "--socket", filepath.Join(t.TempDir(), "none.sock"))
	if r.code != 1 || !strings.Contains(r.stderr, "is palisade-node running?") {
		t.Fatalf("node policy without an agent: %s", r)
	}
}
