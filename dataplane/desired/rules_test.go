package desired

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/palisadenet/palisade/dataplane"
)

func u8(v uint8) *uint8 { return &v }

func TestCheckRule(t *testing.T) {
	sets := func(id string) (SetInfo, bool) {
		switch id {
		case "nets":
			return SetInfo{Kind: dataplane.SetKindNets, HasV4: true}, true
		case "np":
			return SetInfo{Kind: dataplane.SetKindNamedPort, HasV4: true}, true
		}
		return SetInfo{}, false
	}
	for _, tc := range []struct {
		name string
		r    dataplane.Rule
		want string // substring of the error; "" for none
	}{
		{"ok", dataplane.Rule{Action: dataplane.ActionAllow, Source: dataplane.EndpointMatch{SetIDs: []string{"nets"}, NamedPortSetIDs: []string{"np"}}}, ""},
		{"action", dataplane.Rule{Action: 9}, "unknown action 9"},
		{"ipVersion", dataplane.Rule{Action: dataplane.ActionDeny, IPVersion: 5}, "ipVersion 5"},
		{"unknown set", dataplane.Rule{Action: dataplane.ActionDeny, Destination: dataplane.EndpointMatch{NotSetIDs: []string{"x"}}}, `unknown IP set "x"`},
		{"kind", dataplane.Rule{Action: dataplane.ActionDeny, Source: dataplane.EndpointMatch{SetIDs: []string{"np"}}}, `IP set "np" has kind 1`},
		{"reversed ports", dataplane.Rule{Action: dataplane.ActionLog, Destination: dataplane.EndpointMatch{NotPorts: []dataplane.PortRange{{First: 9, Last: 8}}}}, "port range 9:8 is reversed"},
	} {
		err := CheckRule(&tc.r, sets)
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestRuleFamilies(t *testing.T) {
	for _, tc := range []struct {
		r    dataplane.Rule
		want []Family
	}{
		{dataplane.Rule{}, []Family{IPv4, IPv6}},
		{dataplane.Rule{IPVersion: 6}, []Family{IPv6}},
		{dataplane.Rule{Protocol: u8(ProtoICMP)}, []Family{IPv4}},
		{dataplane.Rule{Protocol: u8(ProtoICMPv6)}, []Family{IPv6}},
		{dataplane.Rule{IPVersion: 4, Protocol: u8(ProtoTCP)}, []Family{IPv4}},
	} {
		if diff := cmp.Diff(tc.want, RuleFamilies(&tc.r)); diff != "" {
			t.Errorf("%+v (-want +got):\n%s", tc.r, diff)
		}
	}
}

func TestCross(t *testing.T) {
	join := func(a, b string) string { return a + b }
	got := Cross([][]string{{"a", "b"}, {"1", "2"}}, "", join)
	if diff := cmp.Diff([]string{"a1", "a2", "b1", "b2"}, got); diff != "" {
		t.Errorf("Cross (-want +got):\n%s", diff)
	}
	if got := Cross([][]string{{"a"}, {}}, "", join); len(got) != 0 {
		t.Errorf("a group without alternatives: %v, want none", got)
	}
}

func TestMergePortRangesAndPrefixes(t *testing.T) {
	in := []dataplane.PortRange{{First: 90, Last: 95}, {First: 80, Last: 80}, {First: 81, Last: 85}, {First: 83, Last: 84}}
	want := []dataplane.PortRange{{First: 80, Last: 85}, {First: 90, Last: 95}}
	if diff := cmp.Diff(want, MergePortRanges(in)); diff != "" {
		t.Errorf("MergePortRanges (-want +got):\n%s", diff)
	}
	if in[0].First != 90 {
		t.Error("MergePortRanges modified its input")
	}
	got := MaximalPrefixes([]netip.Prefix{prefix("10.1.0.0/16"), prefix("192.168.0.0/24"), prefix("10.0.0.0/8")})
	if diff := cmp.Diff([]netip.Prefix{prefix("10.0.0.0/8"), prefix("192.168.0.0/24")}, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("MaximalPrefixes (-want +got):\n%s", diff)
	}
	if got := LastAddr(prefix("10.1.2.3/16")); got.String() != "10.1.255.255" {
		t.Errorf("LastAddr = %s", got)
	}
}
