// Package nstest builds throw-away network namespaces for the routing tests: named
// namespaces with a run-unique prefix (so `ip netns exec` and external daemons can use
// them), a netlink handle into each, veth links between them and a shared bridge.
// Everything it creates is deleted in t.Cleanup. It is imported by tests only.
package nstest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// RequireRoot skips the test unless it runs as root with the `ip` tool, and in -short mode.
func RequireRoot(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("network namespace test skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip tool (iproute2) to manage network namespaces")
	}
}

// Prefix returns a short run-unique name prefix such as "pr3fa1".
func Prefix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 2)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "pr" + hex.EncodeToString(b)
}

// NS is a named network namespace with a netlink handle into it.
type NS struct {
	Name   string
	Handle *netlink.Handle
	ns     netns.NsHandle
}

// New creates the namespace name (already prefixed by the caller), brings its
// loopback up, and deletes it when the test ends.
func New(t testing.TB, name string) *NS {
	t.Helper()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("creating netns %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("opening netns %s: %v", name, err)
	}
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		t.Fatalf("netlink handle in %s: %v", name, err)
	}
	t.Cleanup(func() { nl.Close(); h.Close() })
	n := &NS{Name: name, Handle: nl, ns: h}
	n.Run(t, "ip", "link", "set", "lo", "up")
	return n
}

// FD is the namespace's file descriptor, for netlink calls that move links into it.
func (n *NS) FD() int { return int(n.ns) }

// Exec runs a command inside the namespace and returns its combined output.
func (n *NS) Exec(args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.Name}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s in %s: %w: %s", strings.Join(args, " "), n.Name, err, out)
	}
	return string(out), nil
}

// Run is Exec that fails the test on error.
func (n *NS) Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := n.Exec(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Veth links a (device aName) with b (device bName); both ends are left down.
func Veth(t testing.TB, a *NS, aName string, b *NS, bName string) {
	t.Helper()
	tmp := "tmp" + hex.EncodeToString([]byte(bName))[:8]
	a.Run(t, "ip", "link", "add", aName, "type", "veth", "peer", "name", tmp)
	a.Run(t, "ip", "link", "set", tmp, "netns", b.Name)
	b.Run(t, "ip", "link", "set", tmp, "name", bName)
}

// Bridge creates a namespace holding bridge br0 and returns it; Attach plugs nodes in.
func Bridge(t testing.TB, name string) *NS {
	t.Helper()
	br := New(t, name)
	br.Run(t, "ip", "link", "add", "br0", "type", "bridge")
	br.Run(t, "ip", "link", "set", "br0", "up")
	return br
}

// Attach connects node to the bridge namespace br: the node gets dev (e.g. "eth0")
// with address cidr, up; the bridge side is named port.
func Attach(t testing.TB, br, node *NS, port, dev, cidr string) {
	t.Helper()
	Veth(t, br, port, node, dev)
	br.Run(t, "ip", "link", "set", port, "master", "br0")
	br.Run(t, "ip", "link", "set", port, "up")
	node.Run(t, "ip", "addr", "add", cidr, "dev", dev)
	node.Run(t, "ip", "link", "set", dev, "up")
}

// Pod creates a pod namespace behind node the way the CNI plugin does: veth
// hostIf ↔ eth0, the pod's /32 address, default route via 169.254.1.1, proxy ARP
// and a /32 route on the node side, forwarding on the node.
func Pod(t testing.TB, node *NS, name, hostIf, ip string) *NS {
	t.Helper()
	pod := New(t, name)
	Veth(t, node, hostIf, pod, "eth0")
	pod.Run(t, "ip", "addr", "add", ip+"/32", "dev", "eth0")
	pod.Run(t, "ip", "link", "set", "eth0", "up")
	pod.Run(t, "ip", "route", "add", "169.254.1.1", "dev", "eth0", "scope", "link")
	pod.Run(t, "ip", "route", "add", "default", "via", "169.254.1.1", "dev", "eth0")
	node.Run(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	node.Run(t, "sysctl", "-qw", "net.ipv4.conf."+hostIf+".proxy_arp=1")
	node.Run(t, "ip", "link", "set", hostIf, "up")
	node.Run(t, "ip", "route", "add", ip+"/32", "dev", hostIf, "scope", "link")
	return pod
}
