package tunnel

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/palisadenet/palisade/internal/netnstest/nstest"
)

func nodeNS(t *testing.T) *nstest.NS {
	nstest.RequireRoot(t)
	n := nstest.New(t, nstest.Prefix(t)+"-tun")
	n.Run(t, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
	n.Run(t, "ip", "addr", "add", "192.168.40.112/24", "dev", "eth0")
	n.Run(t, "ip", "link", "set", "eth0", "up")
	return n
}

func TestEnsureVXLANCreatesAndUpdates(t *testing.T) {
	n := nodeNS(t)
	mac, _ := net.ParseMAC("66:0a:0b:0c:0d:0e")
	want := VXLAN{Parent: "eth0", Source: netip.MustParseAddr("192.168.40.112"),
		VTEPIP: netip.MustParseAddr("172.16.58.192"), VTEPMAC: mac, MTU: 1400}
	got, err := EnsureVXLAN(n.Handle, want)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != mac.String() {
		t.Errorf("MAC = %s, want %s", got, mac)
	}
	details := n.Run(t, "ip", "-d", "link", "show", "vxlan.calico")
	for _, frag := range []string{"mtu 1400", "state UNKNOWN", "link/ether 66:0a:0b:0c:0d:0e",
		"vxlan id 4096 local 192.168.40.112 dev eth0", "dstport 4789", "nolearning"} {
		if !strings.Contains(details, frag) {
			t.Errorf("ip -d link lacks %q:\n%s", frag, details)
		}
	}
	if out := n.Run(t, "ip", "-4", "-o", "addr", "show", "dev", "vxlan.calico"); !strings.Contains(out, "inet 172.16.58.192/32") {
		t.Errorf("VTEP address missing: %s", out)
	}
	index := n.Run(t, "cat", "/sys/class/net/vxlan.calico/ifindex")

	// Same settings: the device is kept.
	if _, err := EnsureVXLAN(n.Handle, want); err != nil {
		t.Fatal(err)
	}
	if again := n.Run(t, "cat", "/sys/class/net/vxlan.calico/ifindex"); again != index {
		t.Errorf("device recreated without need: ifindex %s → %s", index, again)
	}

	// A new VTEP address replaces the old one in place.
	want.VTEPIP = netip.MustParseAddr("172.16.58.193")
	if _, err := EnsureVXLAN(n.Handle, want); err != nil {
		t.Fatal(err)
	}
	out := n.Run(t, "ip", "-4", "-o", "addr", "show", "dev", "vxlan.calico")
	if !strings.Contains(out, "172.16.58.193/32") || strings.Contains(out, "172.16.58.192") {
		t.Errorf("addresses after VTEP change: %s", out)
	}

	// A different VNI needs a new device.
	want.VNI = 4097
	if _, err := EnsureVXLAN(n.Handle, want); err != nil {
		t.Fatal(err)
	}
	if details := n.Run(t, "ip", "-d", "link", "show", "vxlan.calico"); !strings.Contains(details, "vxlan id 4097") {
		t.Errorf("VNI not changed:\n%s", details)
	}

	if err := Remove(n.Handle, VXLANDevice); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Exec("ip", "link", "show", "vxlan.calico"); err == nil {
		t.Error("device still present after Remove")
	}
	if err := Remove(n.Handle, VXLANDevice); err != nil {
		t.Errorf("Remove of an absent device: %v", err)
	}
}

func TestEnsureVXLANKernelPicksMAC(t *testing.T) {
	n := nodeNS(t)
	got, err := EnsureVXLAN(n.Handle, VXLAN{Parent: "eth0", Source: netip.MustParseAddr("192.168.40.112"),
		VTEPIP: netip.MustParseAddr("172.16.58.192")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 || !strings.Contains(n.Run(t, "ip", "link", "show", "vxlan.calico"), got.String()) {
		t.Errorf("returned MAC %s does not match the device", got)
	}
}

func TestEnsureVXLANInvalidInput(t *testing.T) {
	n := nodeNS(t)
	if _, err := EnsureVXLAN(n.Handle, VXLAN{Parent: "eth0"}); err == nil || !strings.Contains(err.Error(), "no VTEP address") {
		t.Errorf("missing VTEP: err = %v", err)
	}
	_, err := EnsureVXLAN(n.Handle, VXLAN{Parent: "nope0", VTEPIP: netip.MustParseAddr("172.16.0.1")})
	if err == nil || !strings.Contains(err.Error(), `finding parent "nope0"`) {
		t.Errorf("missing parent: err = %v", err)
	}
}

func TestEnsureIPIP(t *testing.T) {
	n := nodeNS(t)
	err := EnsureIPIP(n.Handle, IPIP{Address: netip.MustParseAddr("172.16.58.192"), MTU: 1440})
	if errors.Is(err, ErrIPIPUnsupported) {
		t.Skipf("kernel lacks the ipip module, so tunl0 cannot be created: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	details := n.Run(t, "ip", "-d", "link", "show", "tunl0")
	for _, frag := range []string{"mtu 1440", "ipip"} {
		if !strings.Contains(details, frag) {
			t.Errorf("ip -d link lacks %q:\n%s", frag, details)
		}
	}
	if out := n.Run(t, "ip", "-4", "-o", "addr", "show", "dev", "tunl0"); !strings.Contains(out, "172.16.58.192/32") {
		t.Errorf("tunnel address missing: %s", out)
	}
}

func TestEnsureIPIPRejectsIPv6BeforeTouchingTheKernel(t *testing.T) {
	err := EnsureIPIP(nil, IPIP{Address: netip.MustParseAddr("fd00::1")})
	if err == nil || !strings.Contains(err.Error(), "not IPv4") {
		t.Errorf("err = %v, want a not-IPv4 error", err)
	}
}
