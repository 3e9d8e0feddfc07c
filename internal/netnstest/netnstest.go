// Package netnstest builds throw-away network topologies for tests: named network
// namespaces, veth pairs, and pods plumbed into a node the way the CNI plugin does it
// (DESIGN.md "Workload plumbing": host side cali*, pod side eth0, /32 and /128 routes on
// the node, pod default route via 169.254.1.1 with proxy ARP, no bridge).
//
// In: a *testing.T (or B) and names. Out: *NS handles that run commands (`ip netns
// exec`) or Go code (Do) inside a namespace and expose a file descriptor for netlink
// libraries. Every namespace gets a run-unique name prefix and is deleted in
// t.Cleanup, also when the test fails. Tests that need root or a tool call Require
// first, which skips with a reason naming what is missing.
//
// Typical use:
//
//	netnstest.Require(t, "ip", "nft")
//	node := netnstest.New(t, "node")
//	podA := netnstest.New(t, "a")
//	netnstest.AttachPod(t, node, podA, "cali0000000000a", netip.MustParsePrefix("10.65.0.1/32"))
//	out := podA.MustRun(t, "ping", "-c1", "-W1", "10.65.0.2")
package netnstest

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// runPrefix makes namespace names unique per test process so parallel runs (and
// leftovers of a crashed run) never collide.
var (
	runPrefix = fmt.Sprintf("pt%x", os.Getpid()&0xffffff)
	counter   atomic.Uint32
)

// Require skips the test unless it runs as root and every named tool (and ip) is on PATH.
// In -short mode (make unit) it skips as well: namespace tests are integration tests.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("network-namespace test skipped in -short mode")
	}
	RequireKernel(t, tools...)
}

// RequireKernel is Require without the -short skip, for tests that scale themselves
// down in -short mode instead of skipping.
func RequireKernel(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root to create network namespaces (euid %d)", os.Geteuid())
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %q on PATH: %v", tool, err)
		}
	}
}

// NS is one network namespace created by New.
type NS struct {
	// Name is the `ip netns` name (run-unique).
	Name string
}

// New creates a fresh network namespace with loopback up and forwarding enabled (a
// namespace may act as a node). It is deleted when the test ends.
func New(t testing.TB, role string) *NS {
	t.Helper()
	name := fmt.Sprintf("%s-%d-%s", runPrefix, counter.Add(1), role)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("creating netns %s: %v: %s", name, err, out)
	}
	ns := &NS{Name: name}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("deleting netns %s: %v: %s", name, err, out)
		}
	})
	ns.MustRun(t, "ip", "link", "set", "lo", "up")
	for _, kv := range []string{
		"net.ipv4.ip_forward=1",
		"net.ipv6.conf.all.forwarding=1",
		"net.ipv6.conf.all.accept_dad=0",
		"net.ipv6.conf.default.accept_dad=0",
	} {
		ns.MustRun(t, "sysctl", "-q", "-w", kv)
	}
	return ns
}

// Path is the bind-mount path of the namespace.
func (n *NS) Path() string { return "/var/run/netns/" + n.Name }

// Run runs a command inside the namespace and returns its combined output.
func (n *NS) Run(args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.Name}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("running %q in netns %s: %w: %s", strings.Join(args, " "), n.Name, err, out.String())
	}
	return out.String(), nil
}

// MustRun is Run that fails the test on error.
func (n *NS) MustRun(t testing.TB, args ...string) string {
	t.Helper()
	out, err := n.Run(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Open returns a file descriptor for the namespace (for netlink libraries such as
// google/nftables WithNetNSFd). The descriptor is closed when the test ends.
func (n *NS) Open(t testing.TB) int {
	t.Helper()
	fd, err := unix.Open(n.Path(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("opening netns %s: %v", n.Name, err)
	}
	t.Cleanup(func() { _ = unix.Close(fd) })
	return fd
}

// Do runs fn on a locked OS thread switched into the namespace, then switches back.
// Sockets created inside fn stay in the namespace, so a listener opened in Do can be
// served from any goroutine afterwards.
func (n *NS) Do(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening current netns: %w", err)
	}
	defer unix.Close(orig)
	target, err := unix.Open(n.Path(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening netns %s: %w", n.Name, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("entering netns %s: %w", n.Name, err)
	}
	fnErr := fn()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		// The thread is in the wrong namespace: let it die with the goroutine rather
		// than leak it back into the pool.
		runtime.Goexit()
	}
	return fnErr
}

// Veth creates a veth pair with end aName in a and end bName in b, both up.
func Veth(t testing.TB, a *NS, aName string, b *NS, bName string) {
	t.Helper()
	a.MustRun(t, "ip", "link", "add", aName, "type", "veth", "peer", "name", bName, "netns", b.Name)
	a.MustRun(t, "ip", "link", "set", aName, "up")
	b.MustRun(t, "ip", "link", "set", bName, "up")
}

// HostSideMAC is the MAC of every host-side cali* interface, as Calico uses; the pod's
// IPv6 default route points at its link-local address.
const (
	HostSideMAC       = "ee:ee:ee:ee:ee:ee"
	HostSideLinkLocal = "fe80::ecee:eeff:feee:eeee"
	// GatewayV4 is the pod's IPv4 default gateway, answered by proxy ARP on the host side.
	GatewayV4 = "169.254.1.1"
)

// AttachPod plumbs pod into node the way the CNI plugin does: a veth pair hostIface
// (in node) / eth0 (in pod), the pod's addresses on eth0, a host route per address to
// hostIface, proxy ARP on hostIface and the pod's default routes via 169.254.1.1 and
// the host side's link-local IPv6 address.
func AttachPod(t testing.TB, node, pod *NS, hostIface string, addrs ...netip.Prefix) {
	t.Helper()
	node.MustRun(t, "ip", "link", "add", hostIface, "address", HostSideMAC, "type", "veth", "peer", "name", "eth0", "netns", pod.Name)
	node.MustRun(t, "sysctl", "-q", "-w", "net.ipv4.conf."+hostIface+".proxy_arp=1")
	node.MustRun(t, "sysctl", "-q", "-w", "net.ipv6.conf."+hostIface+".accept_dad=0")
	node.MustRun(t, "ip", "link", "set", hostIface, "up")
	pod.MustRun(t, "ip", "link", "set", "eth0", "up")
	var v4, v6 bool
	for _, p := range addrs {
		host := netip.PrefixFrom(p.Addr(), p.Addr().BitLen())
		if p.Addr().Is4() {
			v4 = true
			pod.MustRun(t, "ip", "addr", "add", host.String(), "dev", "eth0")
			node.MustRun(t, "ip", "route", "add", host.String(), "dev", hostIface)
		} else {
			v6 = true
			pod.MustRun(t, "ip", "-6", "addr", "add", host.String(), "dev", "eth0", "nodad")
			node.MustRun(t, "ip", "-6", "route", "add", host.String(), "dev", hostIface)
		}
	}
	if v4 {
		pod.MustRun(t, "ip", "route", "add", GatewayV4, "dev", "eth0", "scope", "link")
		pod.MustRun(t, "ip", "route", "add", "default", "via", GatewayV4, "dev", "eth0")
		// Proxy ARP answers only for addresses the node routes out of another device;
		// an isolated node namespace has no default route, so give the gateway one.
		if _, err := node.Run("ip", "route", "add", GatewayV4+"/32", "dev", "lo"); err != nil && !strings.Contains(err.Error(), "File exists") {
			t.Fatal(err)
		}
	}
	if v6 {
		pod.MustRun(t, "ip", "-6", "route", "add", "default", "via", HostSideLinkLocal, "dev", "eth0")
	}
}
