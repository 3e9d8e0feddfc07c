package router_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/palisadenet/palisade/internal/netnstest/nstest"
	"github.com/palisadenet/palisade/routing/bgp"
	"github.com/palisadenet/palisade/routing/routes"
)

// cluster is nodes as namespaces on one bridge, a pod behind each node, and a
// speaker process per node.
type cluster struct {
	t      testing.TB
	prefix string
	dir    string
	br     *nstest.NS
	nodes  []*node
	pool   routes.Pool
	spec   func(n *node, cfg *speakerConfig) // per-test adjustments
}

type node struct {
	name   string
	ip     netip.Addr
	block  netip.Prefix
	pod    netip.Addr
	bgp    bgp.Node
	ns     *nstest.NS
	podNS  *nstest.NS
	cmd    *exec.Cmd
	status string // status file
}

// newCluster builds n nodes 192.168.60.(i+1)/24 with blocks 172.21.0.(64*i)/26.
func newCluster(t testing.TB, n int) *cluster {
	nstest.RequireRoot(t)
	c := &cluster{t: t, prefix: nstest.Prefix(t), dir: t.TempDir(),
		pool: routes.Pool{CIDR: netip.MustParsePrefix("172.21.0.0/16")}}
	if d := os.Getenv("PALISADE_ROUTER_TEST_DIR"); d != "" {
		c.dir = d // keep the speakers' logs for debugging
	}
	c.br = nstest.Bridge(t, c.prefix+"-br")
	for i := range n {
		nd := &node{
			name:  fmt.Sprintf("n%d", i+1),
			ip:    netip.AddrFrom4([4]byte{192, 168, 60, byte(i + 1)}),
			block: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 21, byte(i / 4), byte(64 * (i % 4))}), 26),
		}
		nd.pod = nd.block.Addr().Next().Next().Next().Next().Next()
		nd.bgp = bgp.Node{Name: nd.name, IP: nd.ip, Labels: map[string]string{"name": nd.name}}
		nd.ns = nstest.New(t, c.prefix+"-"+nd.name)
		nstest.Attach(t, c.br, nd.ns, "p"+nd.name, "eth0", nd.ip.String()+"/24")
		nd.podNS = nstest.Pod(t, nd.ns, c.prefix+"-"+nd.name+"-pod", fmt.Sprintf("cali%011d", i), nd.pod.String())
		nstest.ServeName(t, nd.podNS)
		nd.status = filepath.Join(c.dir, nd.name+".status")
		c.nodes = append(c.nodes, nd)
	}
	return c
}

func (c *cluster) config(nd *node) speakerConfig {
	cfg := speakerConfig{Name: nd.name, Address: netip.PrefixFrom(nd.ip, 24), Interface: "eth0",
		HoldSeconds: 9, Pools: []routes.Pool{c.pool}, StatusFile: nd.status}
	for _, o := range c.nodes {
		cfg.Nodes = append(cfg.Nodes, o.bgp)
		cfg.Blocks = append(cfg.Blocks, routes.Block{CIDR: o.block, Node: o.name})
	}
	if c.spec != nil {
		c.spec(nd, &cfg)
	}
	return cfg
}

// start runs nd's speaker process in its namespace.
func (c *cluster) start(nd *node) {
	t := c.t
	path := c.writeConfig(nd)
	_ = os.Remove(nd.status)
	logf, err := os.OpenFile(filepath.Join(c.dir, nd.name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", nd.ns.Name, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), speakerEnv+"="+path)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	nd.cmd = cmd
	t.Cleanup(func() { c.stop(nd, syscall.SIGTERM); logf.Close() })
}

// writeConfig writes nd's speaker config (re-read on SIGHUP) and returns its path.
func (c *cluster) writeConfig(nd *node) string {
	raw, err := json.Marshal(c.config(nd))
	if err != nil {
		c.t.Fatal(err)
	}
	path := filepath.Join(c.dir, nd.name+".json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		c.t.Fatal(err)
	}
	return path
}

// stop ends nd's speaker with sig (SIGKILL simulates a crash).
func (c *cluster) stop(nd *node, sig syscall.Signal) {
	if nd.cmd == nil {
		return
	}
	_ = nd.cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = nd.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = nd.cmd.Process.Kill()
		<-done
	}
	nd.cmd = nil
}

func (c *cluster) startAll() {
	for _, nd := range c.nodes {
		c.start(nd)
	}
}

// logs returns the interesting tail of every speaker's log, nd's first.
func (c *cluster) logs(nd *node) string {
	var out strings.Builder
	for _, o := range append([]*node{nd}, c.nodes...) {
		b, _ := os.ReadFile(filepath.Join(c.dir, o.name+".log"))
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "WARN") || strings.Contains(l, "ERROR") || strings.Contains(l, "state") {
				lines = append(lines, l)
			}
		}
		if len(lines) > 25 {
			lines = lines[len(lines)-25:]
		}
		fmt.Fprintf(&out, "--- %s\n%s\n", o.name, strings.Join(lines, "\n"))
		if o == nd && len(c.nodes) > 0 && o != c.nodes[0] {
			continue
		}
	}
	return out.String()
}

func readStatus(nd *node) (speakerStatus, error) {
	var st speakerStatus
	b, err := os.ReadFile(nd.status)
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

// waitEstablished waits until nd reports exactly want peers, all up.
func (c *cluster) waitEstablished(nd *node, want []netip.Addr, timeout time.Duration) speakerStatus {
	c.t.Helper()
	var st speakerStatus
	var err error
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		st, err = readStatus(nd)
		if err == nil && allUp(st, want) {
			return st
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.t.Fatalf("%s: sessions not established with %v: status %+v err %v\nlog tail:\n%s", nd.name, want, st.Peers, err, c.logs(nd))
	return st
}

func allUp(st speakerStatus, want []netip.Addr) bool {
	if len(st.Peers) != len(want) {
		return false
	}
	for i, p := range st.Peers {
		if p.Address != want[i] || p.State != "up" {
			return false
		}
	}
	return true
}

// ownRoutes lists nd's routes with our protocol, whitespace normalised.
func ownRoutes(nd *node) []string {
	out, _ := nd.ns.Exec("ip", "-4", "route", "show", "proto", "80")
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// waitRoutes waits until nd's own routes equal want (in `ip route` order).
func (c *cluster) waitRoutes(nd *node, want []string, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var got []string
	for time.Now().Before(deadline) {
		got = ownRoutes(nd)
		if strings.Join(got, "\n") == strings.Join(want, "\n") {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.t.Fatalf("%s: routes with proto 80:\n got %q\nwant %q\nlog tail:\n%s", nd.name, got, want, c.logs(nd))
}

// meshRoutes is what nd should hold: a blackhole for its block and a native route
// to every other node's block, except the nodes in missing.
func (c *cluster) meshRoutes(nd *node, missing ...*node) []string {
	var want []string
	for _, o := range c.nodes {
		switch {
		case o == nd:
			want = append(want, "blackhole "+o.block.String())
		case !contains(missing, o):
			want = append(want, fmt.Sprintf("%s via %s dev eth0", o.block, o.ip))
		}
	}
	return want
}

func contains(list []*node, n *node) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}

func (c *cluster) others(nd *node) []netip.Addr {
	var out []netip.Addr
	for _, o := range c.nodes {
		if o != nd {
			out = append(out, o.ip)
		}
	}
	return out
}

func (c *cluster) checkPodsReach() {
	c.t.Helper()
	for _, a := range c.nodes {
		for _, b := range c.nodes {
			if a == b {
				continue
			}
			got, err := a.podNS.Reach(b.pod.String(), 3*time.Second)
			if err != nil || got != b.podNS.Name {
				c.t.Errorf("pod on %s → pod on %s: answer %q, %v", a.name, b.name, got, err)
			}
		}
	}
}
