package workload

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidate(t *testing.T) {
	good := Spec{NetNSPath: "/var/run/netns/p", HostIface: "cali0123456789a", PodIface: "eth0", MTU: 1450,
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate(good) = %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Spec)
		want string
	}{
		{"no netns", func(s *Spec) { s.NetNSPath = "" }, "namespace path is empty"},
		{"long host name", func(s *Spec) { s.HostIface = "cali0123456789abc" }, "longer than 15"},
		{"slash in pod name", func(s *Spec) { s.PodIface = "et/h0" }, "character the kernel refuses"},
		{"mtu low", func(s *Spec) { s.MTU = 67 }, "MTU 67 out of range"},
		{"mtu high", func(s *Spec) { s.MTU = 65536 }, "MTU 65536 out of range"},
		{"no addrs", func(s *Spec) { s.Addrs = nil }, "no addresses"},
		{"not host prefix", func(s *Spec) { s.Addrs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")} }, "not a host prefix"},
	} {
		s := good
		tc.edit(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v, want error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestPlanDualStack(t *testing.T) {
	spec := Spec{HostIface: "calia", PodIface: "eth0", Addrs: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("fd00::1/128")}}
	p := PlanFor(spec)
	want := Plan{
		PodAddrs: spec.Addrs,
		PodRoutes: []Route{
			{Dst: netip.MustParsePrefix("169.254.1.1/32"), Dev: "eth0", OnLink: true},
			{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: GatewayV4, Dev: "eth0"},
			{Dst: netip.MustParsePrefix("::/0"), Gateway: GatewayV6, Dev: "eth0"},
		},
		PodNeighbours: []Neighbour{{GatewayV4, HostMAC, "eth0"}, {GatewayV6, HostMAC, "eth0"}},
		PodSysctls:    []Sysctl{{"net/ipv6/conf/eth0/disable_ipv6", "0"}, {"net/ipv6/conf/eth0/accept_dad", "0"}},
		HostRoutes: []Route{
			{Dst: netip.MustParsePrefix("10.0.0.1/32"), Dev: "calia", OnLink: true},
			{Dst: netip.MustParsePrefix("fd00::1/128"), Dev: "calia"},
		},
		HostSysctls: []Sysctl{
			{"net/ipv4/conf/calia/proxy_arp", "1"}, {"net/ipv4/neigh/calia/proxy_delay", "0"},
			{"net/ipv4/conf/calia/forwarding", "1"}, {"net/ipv6/conf/calia/disable_ipv6", "0"},
			{"net/ipv6/conf/calia/accept_dad", "0"}, {"net/ipv6/conf/calia/accept_ra", "0"},
			{"net/ipv6/conf/calia/forwarding", "1"},
		},
	}
	if diff := cmp.Diff(want, p, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("PlanFor (-want +got):\n%s", diff)
	}
	// The IPv6 gateway is the EUI-64 link-local of the host MAC.
	if GatewayV6.String() != "fe80::ecee:eeff:feee:eeee" || HostMAC.String() != "ee:ee:ee:ee:ee:ee" {
		t.Errorf("gateway constants changed: %s %s", GatewayV6, HostMAC)
	}
}

func TestPlanV4OnlyHasNoIPv6(t *testing.T) {
	p := PlanFor(Spec{HostIface: "calia", PodIface: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}})
	if len(p.PodRoutes) != 2 || len(p.PodNeighbours) != 1 || len(p.PodSysctls) != 0 || len(p.HostSysctls) != 3 {
		t.Errorf("IPv4-only plan has IPv6 parts: %+v", p)
	}
}
