package backendtest

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/palisadenet/palisade/internal/netnstest"
)

// Addresses of the outside namespace of AddOutside, and the node's side of that link.
var (
	OutsideV4 = netip.MustParseAddr("192.168.77.2")
	OutsideV6 = netip.MustParseAddr("fd00:77::2")
	NodeOutV4 = netip.MustParseAddr("192.168.77.1")
	NodeOutV6 = netip.MustParseAddr("fd00:77::1")
)

// AddOutside plugs an "outside" namespace into the node through eth1
// (192.168.77.0/24, fd00:77::/64). The outside routes the pod network back through the
// node, so without NAT it sees the pods' own addresses.
func (n *Node) AddOutside(t *testing.T) *netnstest.NS {
	t.Helper()
	out := netnstest.New(t, "outside")
	netnstest.Veth(t, n.NS, "eth1", out, "eth0")
	n.NS.MustRun(t, "ip", "addr", "add", NodeOutV4.String()+"/24", "dev", "eth1")
	n.NS.MustRun(t, "ip", "-6", "addr", "add", NodeOutV6.String()+"/64", "dev", "eth1", "nodad")
	out.MustRun(t, "ip", "addr", "add", OutsideV4.String()+"/24", "dev", "eth0")
	out.MustRun(t, "ip", "-6", "addr", "add", OutsideV6.String()+"/64", "dev", "eth0", "nodad")
	out.MustRun(t, "ip", "route", "add", "10.65.0.0/16", "via", NodeOutV4.String())
	out.MustRun(t, "ip", "-6", "route", "add", "fd00:65::/48", "via", NodeOutV6.String())
	return out
}

// ServeRemoteAddr answers each TCP connection on port with the client's address as the
// server sees it.
func ServeRemoteAddr(t *testing.T, ns *netnstest.NS, port int) {
	t.Helper()
	var l net.Listener
	if err := ns.Do(func() (err error) {
		l, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			_, _ = c.Write([]byte(host))
			_ = c.Close()
		}
	}()
}

// SeenSource connects from pod to dst (served by ServeRemoteAddr) and returns the
// source address dst saw.
func SeenSource(t *testing.T, pod *netnstest.NS, dst netip.AddrPort) string {
	t.Helper()
	c, err := pod.DialTCP(dst, AllowTimeout)
	if err != nil {
		t.Fatalf("connecting to %s: %v", dst, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(AllowTimeout))
	buf := make([]byte, 64)
	nr, _ := c.Read(buf)
	return string(buf[:nr])
}
