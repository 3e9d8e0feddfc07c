package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/palisadenet/palisade/internal/netnstest"
	"github.com/palisadenet/palisade/test/controlplane"
)

// The cluster's addresses. Node addresses are on the test's own bridge; the pool is
// what IPAM carves blocks from. Nothing here is routed outside the namespaces.
const (
	nodeSubnet = "10.213.77.0/24"
	podPool    = "10.244.0.0/16"
	poolName   = "e2e-pool"
	nodeCount  = 3
)

const moduleLine = "module github.com/palisadenet/palisade\n"

// cluster is the world every subtest shares: one control plane, three nodes, their
// agents, and the pods created so far.
type cluster struct {
	t       *testing.T
	root    string // repository root
	cp      *controlplane.ControlPlane
	client  kubernetes.Interface
	bin     string // palisade-node and palisade-cni
	work    string // logs, sockets, CNI configs
	lan     *netnstest.NS
	nodes   []*node
	pods    map[string]*pod // "namespace/name"
	apiPort string
}

// startCluster brings the whole cluster up, or skips t with the missing prerequisite.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	netnstest.Require(t, "nft", "sysctl")
	controlplane.RequireKubectl(t)
	c := &cluster{t: t, root: repoRoot(t), work: t.TempDir(), pods: map[string]*pod{}}
	start := time.Now()
	c.bin = buildBinaries(t, c.root)
	t.Logf("e2e: binaries built in %s", time.Since(start).Round(100*time.Millisecond))

	c.cp = controlplane.Start(t)
	c.cp.InstallCRDs(t, filepath.Join(c.root, "manifests", "crds", "v3"))
	var err error
	if c.client, err = kubernetes.NewForConfig(c.cp.Config); err != nil {
		t.Fatalf("kubernetes client: %v", err)
	}
	u, err := url.Parse(c.cp.URL)
	if err != nil {
		t.Fatalf("apiserver URL %q: %v", c.cp.URL, err)
	}
	c.apiPort = u.Port()

	c.buildNetwork()
	c.createPool()
	for _, n := range c.nodes {
		c.registerNode(n)
	}
	for _, n := range c.nodes {
		c.startAgent(n)
	}
	// Agents stop before their namespaces go (cleanups run last-in first-out).
	t.Cleanup(c.stopAgents)
	t.Cleanup(func() {
		if t.Failed() {
			c.dumpLogs()
		}
	})
	for _, n := range c.nodes {
		if err := c.waitReady(n, 90*time.Second); err != nil {
			t.Fatalf("palisade-node on %s: %v\n%s", n.name, err, tail(n.logPath, 30))
		}
	}
	t.Logf("e2e: %d nodes ready (BGP mesh up) %s after start", len(c.nodes), time.Since(start).Round(100*time.Millisecond))
	return c
}

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

// buildBinaries builds palisade-node and palisade-cni from this checkout into a
// temporary directory, as `make build` would.
func buildBinaries(t *testing.T, root string) string {
	t.Helper()
	dir := t.TempDir()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	// One go build for both: the two links run in parallel.
	cmd := exec.Command(goBin, "build", "-buildvcs=false", "-o", dir+"/", "./cmd/palisade-node", "./cmd/palisade-cni")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/palisade-node ./cmd/palisade-cni: %v\n%s", err, out)
	}
	return dir
}

// buildNetwork creates the LAN (a bridge in its own namespace) and one namespace per
// node with eth0 on the bridge and an apiserver relay on its loopback.
func (c *cluster) buildNetwork() {
	t := c.t
	c.lan = netnstest.New(t, "lan")
	c.lan.MustRun(t, "ip", "link", "add", "br0", "type", "bridge")
	c.lan.MustRun(t, "ip", "link", "set", "br0", "up")
	subnet := netip.MustParsePrefix(nodeSubnet)
	for i := range nodeCount {
		name := fmt.Sprintf("node-%d", i+1)
		addr := subnet.Addr()
		for range 11 + i {
			addr = addr.Next()
		}
		n := &node{
			name:    name,
			ns:      netnstest.New(t, name),
			addr:    netip.PrefixFrom(addr, subnet.Bits()),
			socket:  filepath.Join(c.work, name+".sock"),
			logPath: filepath.Join(c.work, name+".log"),
		}
		port := fmt.Sprintf("port%d", i+1)
		netnstest.Veth(t, n.ns, "eth0", c.lan, port)
		c.lan.MustRun(t, "ip", "link", "set", port, "master", "br0")
		n.ns.MustRun(t, "ip", "addr", "add", n.addr.String(), "dev", "eth0")
		relayAPIServer(t, n.ns, c.apiPort)
		c.nodes = append(c.nodes, n)
	}
}

// createPool applies the IP pool the CNI allocates from: native routing (the nodes
// share a LAN), as many bare-metal clusters run.
func (c *cluster) createPool() {
	c.kubectlApply(fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: %s
spec:
  cidr: %s
  blockSize: 26
  ipipMode: Never
  vxlanMode: Never
  natOutgoing: false
  nodeSelector: all()
`, poolName, podPool))
}

// registerNode creates the Node object as the kubelet does when it registers.
func (c *cluster) registerNode(n *node) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	obj := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: map[string]string{
			"kubernetes.io/hostname": n.name, "kubernetes.io/os": "linux",
		}},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: n.addr.Addr().String()},
			{Type: corev1.NodeHostName, Address: n.name},
		}},
	}
	if _, err := c.client.CoreV1().Nodes().Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		c.t.Fatalf("registering Node %s: %v", n.name, err)
	}
}

// kubectlApply runs `kubectl apply -f -` with the manifest and fails t on error.
func (c *cluster) kubectlApply(manifest string) {
	c.t.Helper()
	if _, err := c.kubectl(strings.NewReader(manifest), "apply", "-f", "-"); err != nil {
		c.t.Fatal(err)
	}
}

// kubectl runs kubectl against the cluster with a bounded time.
func (c *cluster) kubectl(stdin *strings.Reader, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if stdin == nil {
		return c.cp.Kubectl(ctx, nil, args...)
	}
	return c.cp.Kubectl(ctx, stdin, args...)
}

// dumpLogs prints the tail of every agent's log, for a failed test.
func (c *cluster) dumpLogs() {
	for _, n := range c.nodes {
		c.t.Logf("palisade-node %s log tail:\n%s", n.name, tail(n.logPath, 40))
	}
	for _, n := range c.nodes {
		out, _ := n.ns.Run("ip", "route")
		c.t.Logf("%s routes:\n%s", n.name, out)
	}
}

// saveRulesets writes every node's nftables ruleset to a file that outlives the test
// (the evidence for a wrong verdict) and says where.
func (c *cluster) saveRulesets(what string) string {
	var b strings.Builder
	for _, n := range c.nodes {
		out, err := n.ns.Run("nft", "list", "ruleset")
		if err != nil {
			fmt.Fprintf(&b, "  %s: %v\n", n.name, err)
			continue
		}
		f, err := os.CreateTemp("", fmt.Sprintf("palisade-e2e-%s-%s-*.nft", n.name, sanitize(what)))
		if err == nil {
			_, err = f.WriteString(out)
			f.Close()
		}
		if err != nil {
			fmt.Fprintf(&b, "  %s: saving the ruleset: %v\n", n.name, err)
			continue
		}
		fmt.Fprintf(&b, "  %s ruleset saved in %s\n", n.name, f.Name())
	}
	return b.String()
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// tail returns the last n lines of a file, or why it cannot.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
