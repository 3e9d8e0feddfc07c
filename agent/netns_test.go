package agent_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/palisadenet/palisade/internal/netnstest"
)

// buildAgent builds palisade-node once per test binary.
func buildAgent(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "palisade-node")
	if out, err := exec.Command("go", "build", "-buildvcs=false", "-o", bin, "../cmd/palisade-node").CombinedOutput(); err != nil {
		t.Fatalf("building palisade-node: %v\n%s", err, out)
	}
	return bin
}

// A bad configuration stops the agent at once with every problem named.
func TestAgentRejectsBadConfiguration(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the agent")
	}
	bin := buildAgent(t)
	cmd := exec.Command(bin)
	cmd.Env = []string{"NODENAME=n1", "DATASTORE_TYPE=file", "FELIX_HEALTHPORT=99999", "IP=10.0.0.1"}
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
		t.Fatalf("exit code %d (%v), want 1; output:\n%s", code, err, out)
	}
	for _, want := range []string{"DATASTORE_DIR", "FELIX_HEALTHPORT", `IP="10.0.0.1"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not name %s:\n%s", want, out)
		}
	}
}

type runningAgent struct {
	cmd    *exec.Cmd
	exited chan struct{}
	log    string
}

// startAgent runs the agent (policy only) in the namespace against dir.
func startAgent(t *testing.T, bin string, node *netnstest.NS, dir string, env ...string) *runningAgent {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "agent.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", node.Name, bin)
	cmd.Env = append(append(os.Environ(), "NODENAME=n1", "DATASTORE_TYPE=file", "DATASTORE_DIR="+dir,
		"CALICO_NETWORKING_BACKEND=none", "FELIX_HEALTHHOST=127.0.0.1",
		"PALISADE_STATUS_SOCKET="+filepath.Join(t.TempDir(), "status.sock")), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &runningAgent{cmd: cmd, exited: make(chan struct{}), log: logPath}
	go func() { _ = cmd.Wait(); logFile.Close(); close(a.exited) }()
	t.Cleanup(func() { a.stop(syscall.SIGKILL) })
	waitReady(t, node, a)
	return a
}

func (a *runningAgent) stop(sig syscall.Signal) {
	select {
	case <-a.exited:
		return
	default:
	}
	_ = a.cmd.Process.Signal(sig)
	<-a.exited
}

func waitReady(t *testing.T, node *netnstest.NS, a *runningAgent) {
	t.Helper()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var conn net.Conn
			err := ns.WithNetNSPath(node.Path(), func(ns.NetNS) error {
				var err error
				conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
				return err
			})
			return conn, err
		}}}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-a.exited:
			raw, _ := os.ReadFile(a.log)
			t.Fatalf("agent exited:\n%s", raw)
		default:
		}
		if resp, err := client.Get("http://127.0.0.1:9099/readiness"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	raw, _ := os.ReadFile(a.log)
	t.Fatalf("agent not ready after 30s:\n%s", raw)
}

func writePolicyWorld(t *testing.T) string {
	dir := t.TempDir()
	world := `apiVersion: v1
kind: Namespace
metadata: {name: production}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: production, labels: {role: database}}
spec: {nodeName: n1, containers: [{name: c, image: x}]}
status: {podIP: 192.168.0.5}
`
	if err := os.WriteFile(filepath.Join(dir, "world.yaml"), []byte(world), 0o644); err != nil {
		t.Fatal(err)
	}
	policy, err := os.ReadFile("../demo/allow-tcp-6379.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), policy, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// SIGTERM leaves the ruleset in place (pods keep their policy while the agent
// restarts); the next agent adopts it; switching to iptables removes our nftables
// table and programs the iptables chains instead.
func TestAgentRestartAndBackendSwitch(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs the agent in a network namespace")
	}
	netnstest.Require(t, "nft")
	bin := buildAgent(t)
	node := netnstest.New(t, "agent")
	dir := writePolicyWorld(t)
	ourTable := func() (string, error) { return node.Run("nft", "list", "table", "inet", "palisade") }

	a := startAgent(t, bin, node, dir)
	before, err := ourTable()
	if err != nil || !strings.Contains(before, "production/allow-tcp-6379") {
		t.Fatalf("after start, table inet palisade: %v\n%s", err, before)
	}
	a.stop(syscall.SIGTERM)
	if after, err := ourTable(); err != nil || after != before {
		t.Fatalf("SIGTERM changed the ruleset (err %v):\n%s", err, after)
	}
	startAgent(t, bin, node, dir).stop(syscall.SIGTERM)
	if again, err := ourTable(); err != nil || !strings.Contains(again, "production/allow-tcp-6379") {
		t.Fatalf("restarted agent lost the policy: %v\n%s", err, again)
	}

	if _, err := exec.LookPath("iptables-restore"); err != nil {
		t.Skip("iptables-restore missing: backend switch not tested")
	}
	startAgent(t, bin, node, dir, "PALISADE_FIREWALL_BACKEND=iptables").stop(syscall.SIGTERM)
	if out, err := ourTable(); err == nil {
		t.Errorf("nftables table still present after switching to iptables:\n%s", out)
	}
	saved := node.MustRun(t, "iptables-save", "-t", "filter")
	if !strings.Contains(saved, "cali-FORWARD") || !strings.Contains(saved, ":cali-tw-cali") {
		t.Errorf("iptables backend did not program its chains:\n%s", saved)
	}
}

// Switching back to nftables removes our iptables chains and jumps once the
// nftables table is programmed, and leaves other rules alone.
func TestAgentSwitchBackToNftables(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs the agent in a network namespace")
	}
	netnstest.Require(t, "nft", "iptables-save", "iptables-restore", "ipset")
	bin := buildAgent(t)
	node := netnstest.New(t, "agentsw")
	dir := writePolicyWorld(t)
	node.MustRun(t, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "2222", "-j", "ACCEPT")

	startAgent(t, bin, node, dir, "PALISADE_FIREWALL_BACKEND=iptables").stop(syscall.SIGTERM)
	if saved := node.MustRun(t, "iptables-save", "-t", "filter"); !strings.Contains(saved, ":cali-FORWARD") {
		t.Fatalf("iptables backend did not program its chains:\n%s", saved)
	}
	startAgent(t, bin, node, dir).stop(syscall.SIGTERM)
	saved := node.MustRun(t, "iptables-save", "-t", "filter")
	if strings.Contains(saved, "cali-") || strings.Contains(saved, "palisade") {
		t.Errorf("our iptables rules remain after switching to nftables:\n%s", saved)
	}
	if !strings.Contains(saved, "--dport 2222 -j ACCEPT") {
		t.Errorf("the user's own rule was removed:\n%s", saved)
	}
	if out, err := node.Run("nft", "list", "table", "inet", "palisade"); err != nil || !strings.Contains(out, "allow-tcp-6379") {
		t.Errorf("nftables table not programmed after switching back: %v\n%s", err, out)
	}
}
