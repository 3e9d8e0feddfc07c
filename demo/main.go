// Command palisade-demo is what `sudo make demo` runs: a two-node cluster in network
// namespaces on this machine, running the real palisade-node (file datastore, BGP
// between the nodes, nftables) and palisade-cni, with pods frontend, database and
// other in namespace production. It probes every pod pair with real TCP connections
// before and after applying allow-tcp-6379.yaml, prints what is allowed and what is
// denied next to what the reference policy evaluator expects, shows `node status`,
// and removes everything it created.
//
// In: the built binaries (--bin), the policy file (--policy). Out: the report on
// stdout, agent logs in --work; exit status 1 when any probe disagrees with the
// evaluator or a step fails.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", defaultBinDir(), "directory with palisade-node and palisade-cni")
	policyFile := flag.String("policy", "../shared/examples/allow-tcp-6379.yaml", "the policy to apply")
	work := flag.String("work", "/tmp/palisade-demo", "working directory (datastore, logs)")
	keep := flag.Bool("keep", false, "leave the cluster running (clean up later with --cleanup)")
	cleanupOnly := flag.Bool("cleanup", false, "only remove what a previous run left behind")
	firewall := flag.String("firewall", "nftables", "the agents' firewall backend: nftables or iptables")
	encap := flag.String("networking", "bgp", "bgp: native routes learned over BGP; vxlan: VXLAN tunnels, no BGP")
	flag.Parse()

	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "palisade-demo needs root (network namespaces, nftables): run `sudo make demo`")
		os.Exit(1)
	}
	if err := cleanupLeftovers(); err != nil {
		fail(err)
	}
	if *cleanupOnly {
		_ = os.RemoveAll(*work)
		fmt.Println("Removed the demo's namespaces and", *work)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *encap != "bgp" && *encap != "vxlan" {
		fail(fmt.Errorf("--networking must be bgp or vxlan, not %q", *encap))
	}
	c, err := newCluster(*bin, *work)
	c.vxlan = *encap == "vxlan"
	c.firewall = *firewall
	if err != nil {
		fail(err)
	}
	ok, err := c.run(ctx, *policyFile)
	if *keep {
		fmt.Printf("\nThe cluster keeps running (logs in %s). Remove it with: sudo %s --cleanup\n", *work, os.Args[0])
	} else {
		c.stopAgents()
		if cerr := cleanupLeftovers(); cerr != nil && err == nil {
			err = cerr
		}
		_ = os.RemoveAll(*work)
		fmt.Println("\nCleaned up: the demo's namespaces, agents and files are gone.")
	}
	if err != nil {
		fail(fmt.Errorf("%w (agent logs: %s)", err, *work))
	}
	if !ok {
		fmt.Fprintln(os.Stderr, "palisade-demo: some probes disagree with the reference evaluator")
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "palisade-demo:", err)
	os.Exit(1)
}

// defaultBinDir is the directory of this executable: `make demo` builds everything
// into bin/.
func defaultBinDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "bin"
	}
	return filepath.Dir(exe)
}

func newCluster(bin, work string) (*cluster, error) {
	for _, b := range []string{"palisade-node", "palisade-cni"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return nil, fmt.Errorf("%s not found in %s: run `make build` first", b, bin)
		}
	}
	_ = os.RemoveAll(work)
	c := &cluster{bin: bin, work: work, dsDir: filepath.Join(work, "datastore")}
	if err := os.MkdirAll(c.dsDir, 0o755); err != nil {
		return nil, err
	}
	for i, name := range []string{"node1", "node2"} {
		c.nodes = append(c.nodes, &node{name: name, ns: nsPrefix + name,
			address: netip.MustParsePrefix(fmt.Sprintf("10.213.0.%d/24", 11+i)),
			socket:  filepath.Join(work, name+".sock")})
	}
	add := func(name, role string, n *node) {
		c.pods = append(c.pods, &pod{name: name, namespace: "production", node: n, labels: map[string]string{"role": role},
			ns: nsPrefix + name, containerID: fmt.Sprintf("demo%012d", len(c.pods)+1)})
	}
	add("frontend", "frontend", c.nodes[0])
	add("other", "other", c.nodes[0])
	add("database", "database", c.nodes[1])
	return c, nil
}

// ports are the destination ports the matrix probes.
var ports = []uint16{6379, 80}

// run is the demo's script. It returns false when a probe disagreed with the
// reference evaluator.
func (c *cluster) run(ctx context.Context, policyFile string) (bool, error) {
	start := time.Now()
	step := func(format string, args ...any) {
		fmt.Printf("[%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	policy, err := os.ReadFile(policyFile)
	if err != nil {
		return false, fmt.Errorf("reading the policy: %w", err)
	}
	step("Creating 2 nodes (network namespaces on a shared bridge, 10.213.0.0/24)")
	if err := c.buildNetwork(); err != nil {
		return false, err
	}
	if err := c.writeDatastore(); err != nil {
		return false, err
	}
	mode := c.firewall + ", BGP"
	if c.vxlan {
		mode = c.firewall + ", VXLAN without BGP"
	}
	step("Starting palisade-node on each node (file datastore %s, %s)", c.dsDir, mode)
	for _, n := range c.nodes {
		if err := c.startAgent(n); err != nil {
			return false, err
		}
	}
	step("Creating pods with palisade-cni: frontend and other on node1, database on node2")
	for _, p := range c.pods {
		if err := c.addPod(ctx, p); err != nil {
			return false, err
		}
		for _, port := range ports {
			if err := listen(ctx, p, port); err != nil {
				return false, err
			}
		}
		step("  %-9s %-16s on %s", p.name, p.ip, p.node.name)
	}
	if !c.vxlan {
		step("Waiting for BGP sessions and routes between the nodes")
		if err := c.waitForMesh(ctx, 60*time.Second); err != nil {
			return false, err
		}
	}
	step("Waiting for every pod to reach every other (no policy yet)")
	if err := c.waitForMatrix(ctx, 30*time.Second); err != nil {
		return false, err
	}
	okBefore, err := c.report("Before the policy: every pod reaches every other", c.dsDir)
	if err != nil {
		return false, err
	}

	step("Applying %s", policyFile)
	applied := time.Now()
	if err := os.WriteFile(filepath.Join(c.dsDir, "allow-tcp-6379.yaml"), policy, 0o644); err != nil {
		return false, err
	}
	took, err := c.waitForPolicy(ctx, 15*time.Second)
	if err != nil {
		return false, err
	}
	step("Policy enforced %.0f ms after the file was written", took.Sub(applied).Seconds()*1000)
	okAfter, err := c.report("With allow-tcp-6379: only frontend reaches database, and only on TCP 6379", c.dsDir)
	if err != nil {
		return false, err
	}
	if err := c.showNATOutgoing(ctx); err != nil {
		return false, err
	}
	if err := c.printNodeStatus(ctx); err != nil {
		return false, err
	}
	c.printRoutes()
	step("Done")
	return okBefore && okAfter, nil
}
