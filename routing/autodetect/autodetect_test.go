package autodetect

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/palisadenet/palisade/internal/netnstest/nstest"
)

func ifc(name string, up bool, addrs ...string) Interface {
	i := Interface{Name: name, Up: up}
	for _, a := range addrs {
		i.Addrs = append(i.Addrs, netip.MustParsePrefix(a))
	}
	return i
}

// A host as kubelet nodes look: loopback, docker, pod veths, our tunnels, a down
// NIC, then the real NICs.
var host = []Interface{
	ifc("lo", true, "127.0.0.1/8"),
	ifc("docker0", true, "172.17.0.1/16"),
	ifc("cali1234567890a", true, "169.254.1.1/32"),
	ifc("veth0abc", true, "10.88.0.1/16"),
	ifc("kube-ipvs0", true, "10.96.0.1/32"),
	ifc("vxlan.calico", true, "172.16.58.192/32"),
	ifc("tunl0", true, "172.16.58.193/32"),
	ifc("eth9", false, "192.168.9.9/24"),
	ifc("eth0", true, "169.254.3.3/16", "192.168.40.112/24"),
	ifc("ens33", true, "10.0.5.7/22"),
	ifc("bond0", true, "10.1.0.4/16"),
}

func lookupTable(routes map[string]string) RouteSource {
	return func(dst netip.Addr) (netip.Addr, error) {
		for cidr, src := range routes {
			if netip.MustParsePrefix(cidr).Contains(dst) {
				return netip.MustParseAddr(src), nil
			}
		}
		return netip.Addr{}, fmt.Errorf("network is unreachable")
	}
}

func TestDetect(t *testing.T) {
	lookup := lookupTable(map[string]string{"10.0.0.0/16": "10.0.5.7", "8.8.8.0/24": "192.168.40.112", "10.7.0.0/16": "10.250.0.1"})
	cases := []struct {
		name, ip, method string
		want             Result
		wantErr          string
	}{
		{name: "default is first-found", want: Result{netip.MustParsePrefix("192.168.40.112/24"), "eth0"}},
		{name: "autodetect keyword", ip: "autodetect", method: "first-found", want: Result{netip.MustParsePrefix("192.168.40.112/24"), "eth0"}},
		{name: "interface regex", method: "interface=ens.*", want: Result{netip.MustParsePrefix("10.0.5.7/22"), "ens33"}},
		{name: "interface list, first listed interface wins", method: "interface=bond.*,ens.*", want: Result{netip.MustParsePrefix("10.0.5.7/22"), "ens33"}},
		{name: "interface may pick an otherwise skipped name", method: "interface=docker0", want: Result{netip.MustParsePrefix("172.17.0.1/16"), "docker0"}},
		{name: "interface down is skipped", method: "interface=eth9", wantErr: "no up interface"},
		{name: "skip-interface", method: "skip-interface=eth0", want: Result{netip.MustParsePrefix("10.0.5.7/22"), "ens33"}},
		{name: "skip-interface list", method: "skip-interface=eth0, ens.*", want: Result{netip.MustParsePrefix("10.1.0.4/16"), "bond0"}},
		{name: "skip-interface keeps default skips", method: "skip-interface=eth.*,ens.*,bond.*", wantErr: "no up interface"},
		{name: "cidr", method: "cidr=10.1.0.0/16", want: Result{netip.MustParsePrefix("10.1.0.4/16"), "bond0"}},
		{name: "cidr list", method: "cidr=10.9.0.0/16,10.0.4.0/22", want: Result{netip.MustParsePrefix("10.0.5.7/22"), "ens33"}},
		{name: "cidr looks at every interface", method: "cidr=172.17.0.0/16", want: Result{netip.MustParsePrefix("172.17.0.1/16"), "docker0"}},
		{name: "cidr without match", method: "cidr=10.200.0.0/16", wantErr: "no up interface"},
		{name: "can-reach", method: "can-reach=10.0.1.1", want: Result{netip.MustParsePrefix("10.0.5.7/22"), "ens33"}},
		{name: "can-reach default route", method: "can-reach=8.8.8.8", want: Result{netip.MustParsePrefix("192.168.40.112/24"), "eth0"}},
		{name: "can-reach unreachable", method: "can-reach=203.0.113.1", wantErr: "network is unreachable"},
		{name: "can-reach source on no interface", method: "can-reach=10.7.0.1", wantErr: "on no interface"},
		{name: "can-reach needs an IP", method: "can-reach=example.org", wantErr: "want an IPv4 address"},
		{name: "IP overrides the method", ip: "10.1.0.4", method: "interface=ens.*", want: Result{netip.MustParsePrefix("10.1.0.4/16"), "bond0"}},
		{name: "IP with prefix", ip: "10.1.0.4/24", want: Result{netip.MustParsePrefix("10.1.0.4/24"), "bond0"}},
		{name: "IP on no interface", ip: "10.99.0.1", want: Result{netip.MustParsePrefix("10.99.0.1/32"), ""}},
		{name: "IP none", ip: "none", wantErr: ErrDisabled.Error()},
		{name: "IP invalid", ip: "10.0.0.300", wantErr: "is not an IPv4 address"},
		{name: "IPv6 IP rejected", ip: "fd00::1", wantErr: "is not an IPv4 address"},
		{name: "unknown method", method: "kubernetes-internal-ip", wantErr: "unknown method"},
		{name: "bad regex", method: "interface=eth[", wantErr: "error parsing regexp"},
		{name: "empty regex list", method: "interface=", wantErr: "no interface pattern"},
		{name: "bad cidr", method: "cidr=10.0.0.0/33", wantErr: "cidr=10.0.0.0/33"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Detect(c.ip, c.method, host, lookup)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q (result %+v)", err, c.wantErr, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestFirstFoundSkipsEveryDefaultName(t *testing.T) {
	for _, name := range []string{"docker0", "cbr0", "dummy0", "virbr0", "lxcbr0", "veth1", "lo", "cali0",
		"tunl0", "flannel.1", "kube-ipvs0", "cni0", "vxlan.calico", "vxlan-v6.calico", "br-1a2b", "wireguard.cali", "nodelocaldns"} {
		_, err := Detect("", "first-found", []Interface{ifc(name, true, "10.3.0.1/24")}, nil)
		if err == nil {
			t.Errorf("first-found chose %s", name)
		}
	}
}

func TestDisabledIsDistinguishable(t *testing.T) {
	if _, err := Detect("none", "", host, nil); !errors.Is(err, ErrDisabled) {
		t.Errorf("err = %v, want ErrDisabled", err)
	}
}

func TestDetectInNetns(t *testing.T) {
	nstest.RequireRoot(t)
	n := nstest.New(t, nstest.Prefix(t)+"-ad")
	n.Run(t, "ip", "link", "add", "veth7", "type", "veth", "peer", "name", "eth0")
	n.Run(t, "ip", "link", "add", "ens4", "type", "veth", "peer", "name", "ens4p")
	for _, dev := range []string{"veth7", "eth0", "ens4", "ens4p"} {
		n.Run(t, "ip", "link", "set", dev, "up")
	}
	n.Run(t, "ip", "addr", "add", "172.31.0.1/24", "dev", "veth7")
	n.Run(t, "ip", "addr", "add", "192.168.40.112/24", "dev", "eth0")
	n.Run(t, "ip", "addr", "add", "10.0.5.7/22", "dev", "ens4")
	n.Run(t, "ip", "route", "add", "10.50.0.0/16", "via", "10.0.4.1", "dev", "ens4")

	cases := map[string]Result{
		"first-found":         {netip.MustParsePrefix("192.168.40.112/24"), "eth0"},
		"interface=ens.*":     {netip.MustParsePrefix("10.0.5.7/22"), "ens4"},
		"can-reach=10.50.1.1": {netip.MustParsePrefix("10.0.5.7/22"), "ens4"},
		"cidr=10.0.0.0/8":     {netip.MustParsePrefix("10.0.5.7/22"), "ens4"},
	}
	for method, want := range cases {
		got, err := DetectIn(n.Handle, "", method)
		if err != nil {
			t.Errorf("%s: %v", method, err)
			continue
		}
		if got != want {
			t.Errorf("%s: got %+v, want %+v", method, got, want)
		}
	}
}
