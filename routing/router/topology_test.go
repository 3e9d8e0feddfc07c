package router_test

import (
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
)

// One reflector and three clients: the mesh is replaced, clients peer only with the
// reflector, and every block still reaches every node with its original next hop.
func TestRouteReflector(t *testing.T) {
	c := newCluster(t, 4)
	rr := c.nodes[0]
	rr.bgp.RouteReflectorClusterID = "224.0.0.1"
	c.spec = func(nd *node, cfg *speakerConfig) {
		if nd == rr {
			cfg.ClusterID = "224.0.0.1"
		}
	}
	c.startAll()
	c.waitEstablished(rr, c.others(rr), 60*time.Second)
	for _, client := range c.nodes[1:] {
		st := c.waitEstablished(client, []netip.Addr{rr.ip}, 30*time.Second)
		if st.Peers[0].Type != bgp.TypeGlobal {
			t.Errorf("%s: reflector session type %q", client.name, st.Peers[0].Type)
		}
	}
	for _, nd := range c.nodes {
		c.waitRoutes(nd, c.meshRoutes(nd), 20*time.Second)
	}
	c.checkPodsReach()
}

// With graceful restart, a crashed node's routes stay on its peers (stale) while it
// restarts, so pod traffic towards it is not cut by the control plane.
func TestGracefulRestartKeepsRoutes(t *testing.T) {
	c := newCluster(t, 3)
	c.spec = func(nd *node, cfg *speakerConfig) { cfg.GracefulRestart, cfg.RestartSeconds = true, 60 }
	c.startAll()
	for _, nd := range c.nodes {
		c.waitEstablished(nd, c.others(nd), 60*time.Second)
		c.waitRoutes(nd, c.meshRoutes(nd), 20*time.Second)
	}
	n3 := c.nodes[2]
	c.stop(n3, syscall.SIGKILL)
	time.Sleep(4 * time.Second) // longer than a plain session reset takes to withdraw
	for _, nd := range c.nodes[:2] {
		if got := ownRoutes(nd); strings.Join(got, "\n") != strings.Join(c.meshRoutes(nd), "\n") {
			t.Errorf("%s lost routes during n3's graceful restart: %q", nd.name, got)
		}
	}
	c.start(n3)
	for _, nd := range c.nodes {
		c.waitEstablished(nd, c.others(nd), 60*time.Second)
		c.waitRoutes(nd, c.meshRoutes(nd), 20*time.Second)
	}
	c.checkPodsReach()
}

// BIRD 2 as an eBGP top-of-rack router (AS 65000) peering with n1: BIRD learns every
// cluster block and exports them to its kernel; the cluster learns BIRD's route.
func TestBIRDInterop(t *testing.T) {
	bird, err := exec.LookPath("bird")
	if err != nil {
		t.Skip("needs bird (BIRD 2) for the interop test")
	}
	birdc, err := exec.LookPath("birdc")
	if err != nil {
		t.Skip("needs birdc (BIRD 2) for the interop test")
	}
	c := newCluster(t, 3)
	tor := nstest.New(t, c.prefix+"-tor")
	nstest.Attach(t, c.br, tor, "ptor", "eth0", "192.168.60.254/24")
	n1 := c.nodes[0]
	c.spec = func(nd *node, cfg *speakerConfig) {
		cfg.Specs = []bgp.PeerSpec{{Name: "tor", Node: "n1", PeerIP: netip.MustParseAddr("192.168.60.254"), ASNumber: 65000}}
	}
	conf := filepath.Join(c.dir, "bird.conf")
	sock := filepath.Join(c.dir, "bird.ctl")
	writeFile(t, conf, fmt.Sprintf(`router id 192.168.60.254;
protocol device {}
protocol static { ipv4; route 10.99.0.0/24 blackhole; }
protocol kernel { ipv4 { import none; export where source = RTS_BGP; }; }
protocol bgp palisade {
  local 192.168.60.254 as 65000;
  neighbor %s as 64512;
  hold time 9;
  ipv4 { import all; export all; };
}
`, n1.ip))
	cmd := exec.Command("ip", "netns", "exec", tor.Name, bird, "-f", "-c", conf, "-s", sock)
	logf, _ := os.Create(filepath.Join(c.dir, "bird.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	c.startAll()

	st := c.waitEstablished(n1, append(c.others(n1), netip.MustParseAddr("192.168.60.254")), 60*time.Second)
	if !strings.Contains(st.Text, "| 192.168.60.254 | node specific     | up    |") {
		t.Errorf("n1 status lacks the BIRD peer:\n%s", st.Text)
	}
	// BIRD learned all three blocks from n1 (eBGP: next hop n1) into its kernel.
	var want []string
	for _, nd := range c.nodes {
		want = append(want, fmt.Sprintf("%s via %s dev eth0 proto bird metric 32", nd.block, n1.ip))
	}
	deadline := time.Now().Add(30 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		got = nil
		for _, l := range strings.Split(strings.TrimSpace(tor.Run(t, "ip", "-4", "route", "show", "proto", "bird")), "\n") {
			if l = strings.Join(strings.Fields(l), " "); l != "" {
				got = append(got, strings.Replace(l, " proto bird", "", 1))
			}
		}
		if len(got) == len(want) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	for i := range want {
		want[i] = strings.Replace(want[i], " proto bird", "", 1)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		out, _ := exec.Command(birdc, "-s", sock, "show", "route").CombinedOutput()
		t.Errorf("BIRD's kernel routes:\n got %q\nwant %q\nbirdc show route:\n%s", got, want, out)
	}
	// Every node learned BIRD's 10.99.0.0/24 (n2 and n3 through n1, next hop kept).
	for _, nd := range c.nodes {
		c.waitRoutes(nd, append([]string{"10.99.0.0/24 via 192.168.60.254 dev eth0"}, c.meshRoutes(nd)...), 30*time.Second)
	}
	out, err := exec.Command(birdc, "-s", sock, "show", "protocols", "palisade").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Established") {
		t.Errorf("birdc show protocols: %v\n%s", err, out)
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// gobgpd as an eBGP peer (AS 65001) of n2: it learns the cluster's blocks and the
// cluster learns the prefix it originates.
func TestGoBGPdInterop(t *testing.T) {
	gobgpd, err := exec.LookPath("gobgpd")
	if err != nil {
		t.Skip("needs gobgpd for the interop test")
	}
	gobgp, err := exec.LookPath("gobgp")
	if err != nil {
		t.Skip("needs the gobgp CLI for the interop test")
	}
	c := newCluster(t, 3)
	peerNS := nstest.New(t, c.prefix+"-gobgpd")
	nstest.Attach(t, c.br, peerNS, "pgobgpd", "eth0", "192.168.60.253/24")
	n2 := c.nodes[1]
	c.spec = func(nd *node, cfg *speakerConfig) {
		cfg.Specs = []bgp.PeerSpec{{Name: "gobgpd", Node: "n2", PeerIP: netip.MustParseAddr("192.168.60.253"), ASNumber: 65001}}
	}
	conf := filepath.Join(c.dir, "gobgpd.toml")
	writeFile(t, conf, fmt.Sprintf(`[global.config]
  as = 65001
  router-id = "192.168.60.253"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "%s"
    peer-as = 64512
`, n2.ip))
	cmd := exec.Command("ip", "netns", "exec", peerNS.Name, gobgpd, "-f", conf, "--pprof-disable", "--api-hosts", "127.0.0.1:50051")
	logf, _ := os.Create(filepath.Join(c.dir, "gobgpd.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	cli := func(args ...string) (string, error) {
		return peerNS.Exec(append([]string{gobgp, "-u", "127.0.0.1", "-p", "50051"}, args...)...)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := cli("global", "rib", "add", "-a", "ipv4", "10.98.0.0/24"); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("gobgpd API not ready: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	c.startAll()
	c.waitEstablished(n2, append(c.others(n2), netip.MustParseAddr("192.168.60.253")), 60*time.Second)
	for _, nd := range c.nodes {
		c.waitRoutes(nd, append([]string{"10.98.0.0/24 via 192.168.60.253 dev eth0"}, c.meshRoutes(nd)...), 30*time.Second)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		out, _ := cli("global", "rib", "-a", "ipv4")
		missing := ""
		for _, nd := range c.nodes {
			if !strings.Contains(out, nd.block.String()) {
				missing = nd.block.String()
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gobgpd never learned %s:\n%s", missing, out)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
