// Package nstest is the routing flavour of package netnstest: named network
// namespaces with a run-unique prefix chosen by the caller (so `ip netns exec` and
// external daemons such as BIRD, FRR or gobgpd can use them), a vishvananda/netlink
// handle into each, veth links left down for the caller to address, a shared bridge
// namespace, and pods plumbed CNI-style with a static ARP entry for the gateway.
// Everything it creates is deleted in t.Cleanup. It is imported by tests only; it
// shares its preconditions with netnstest (Require).
package nstest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/palisadenet/palisade/internal/netnstest"
)

// RequireRoot skips the test unless it runs as root with the `ip` tool, and in -short
// mode (netnstest.Require).
func RequireRoot(t testing.TB) {
	t.Helper()
	netnstest.Require(t)
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
// and a /32 route on the node side, forwarding on the node. The pod also gets a
// permanent ARP entry for 169.254.1.1, because proxy ARP only answers when the node
// has a route to that address, and test nodes often have no default route.
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
	hostMAC := strings.TrimSpace(node.Run(t, "cat", "/sys/class/net/"+hostIf+"/address"))
	pod.Run(t, "ip", "neigh", "replace", "169.254.1.1", "lladdr", hostMAC, "dev", "eth0", "nud", "permanent")
	return pod
}

// Do runs fn on an OS thread that has entered the namespace, so sockets fn opens
// belong to it (a socket keeps its namespace after the thread leaves).
func (n *NS) Do(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return fmt.Errorf("saving current netns: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(n.ns); err != nil {
		return fmt.Errorf("entering netns %s: %w", n.Name, err)
	}
	defer func() { _ = netns.Set(orig) }()
	return fn()
}

// EchoPort is the TCP port ServeName listens on.
const EchoPort = 7007

// ServeName listens on EchoPort in the namespace and answers every connection with
// the namespace's name: a ping that needs no external tool and proves which
// namespace answered.
func ServeName(t testing.TB, n *NS) {
	t.Helper()
	var l net.Listener
	err := n.Do(func() (err error) {
		l, err = net.Listen("tcp4", fmt.Sprintf(":%d", EchoPort))
		return err
	})
	if err != nil {
		t.Fatalf("listening in %s: %v", n.Name, err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(n.Name))
			c.Close()
		}
	}()
}

// Reach connects from namespace n to ip's ServeName and returns who answered.
func (n *NS) Reach(ip string, timeout time.Duration) (string, error) {
	var c net.Conn
	err := n.Do(func() (err error) {
		c, err = net.DialTimeout("tcp4", net.JoinHostPort(ip, fmt.Sprint(EchoPort)), timeout)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("from %s to %s: %w", n.Name, ip, err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	b, err := io.ReadAll(c)
	if err != nil {
		return "", fmt.Errorf("reading answer from %s in %s: %w", ip, n.Name, err)
	}
	return string(b), nil
}
