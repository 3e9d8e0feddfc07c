package backendtest

import (
	"net/netip"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/palisadenet/palisade/dataplane"
)

// RuleCase is one policy rule of the golden rendering tests.
type RuleCase struct {
	Name string
	Rule dataplane.Rule
}

// RuleCases render one policy rule each, covering every field of dataplane.Rule and
// every action; both backends render them into golden files named after the case,
// and add cases of their own.
func RuleCases() []RuleCase {
	return []RuleCase{
		{"action-allow", dataplane.Rule{Action: dataplane.ActionAllow}},
		{"action-deny", dataplane.Rule{Action: dataplane.ActionDeny}},
		{"action-pass", dataplane.Rule{Action: dataplane.ActionPass}},
		{"action-log", dataplane.Rule{Action: dataplane.ActionLog, LogPrefix: "calico-drop"}},
		{"protocol", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: U8(6)}},
		{"not-protocol", dataplane.Rule{Action: dataplane.ActionAllow, NotProtocol: U8(17)}},
		{"ipversion-4", dataplane.Rule{Action: dataplane.ActionAllow, IPVersion: 4}},
		{"ipversion-6", dataplane.Rule{Action: dataplane.ActionAllow, IPVersion: 6, Protocol: U8(6)}},
		{"src-set", dataplane.Rule{Action: dataplane.ActionAllow, Source: dataplane.EndpointMatch{SetIDs: []string{"sel-a", "sel-b"}}}},
		{"src-not-set", dataplane.Rule{Action: dataplane.ActionAllow, Source: dataplane.EndpointMatch{NotSetIDs: []string{"sel-a"}}}},
		{"dst-set", dataplane.Rule{Action: dataplane.ActionDeny, Destination: dataplane.EndpointMatch{SetIDs: []string{"sel-b"}}}},
		{"src-nets", dataplane.Rule{Action: dataplane.ActionAllow, Source: dataplane.EndpointMatch{
			Nets: []netip.Prefix{Pfx("10.0.0.0/8"), Pfx("10.1.0.0/16"), Pfx("192.168.1.0/24"), Pfx("fd00::/8")}}}},
		{"src-nets-v4-only-ipv6", dataplane.Rule{Action: dataplane.ActionAllow, IPVersion: 6, Source: dataplane.EndpointMatch{
			Nets: []netip.Prefix{Pfx("10.0.0.0/8")}}}},
		{"dst-ports", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: U8(6), Destination: dataplane.EndpointMatch{
			Ports: []dataplane.PortRange{{First: 80, Last: 80}, {First: 8000, Last: 8080}, {First: 8080, Last: 8090}}}}},
		{"src-ports-no-protocol", dataplane.Rule{Action: dataplane.ActionAllow, Source: dataplane.EndpointMatch{
			Ports: []dataplane.PortRange{{First: 53, Last: 53}}}}},
		{"dst-not-ports", dataplane.Rule{Action: dataplane.ActionDeny, Protocol: U8(17), Destination: dataplane.EndpointMatch{
			NotPorts: []dataplane.PortRange{{First: 1, Last: 1023}}}}},
		{"dst-named-port", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: U8(6), Destination: dataplane.EndpointMatch{
			NamedPortSetIDs: []string{"np-http"}}}},
		{"dst-ports-or-named-port", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: U8(6), Destination: dataplane.EndpointMatch{
			Ports: []dataplane.PortRange{{First: 443, Last: 443}}, NamedPortSetIDs: []string{"np-http"}}}},
		{"dst-not-named-port", dataplane.Rule{Action: dataplane.ActionDeny, Protocol: U8(6), Destination: dataplane.EndpointMatch{
			NotNamedPortSetIDs: []string{"np-http"}}}},
		{"icmp-type", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: U8(1), ICMP: &dataplane.ICMPMatch{Type: 8}}},
		{"icmp-type-code", dataplane.Rule{Action: dataplane.ActionAllow, IPVersion: 4, ICMP: &dataplane.ICMPMatch{Type: 3, Code: U8(4)}}},
		{"icmpv6-type", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: U8(58), ICMP: &dataplane.ICMPMatch{Type: 128}}},
		{"not-icmp-type-code", dataplane.Rule{Action: dataplane.ActionDeny, Protocol: U8(1), NotICMP: &dataplane.ICMPMatch{Type: 8, Code: U8(0)}}},
		{"unknown-set-fails-closed", dataplane.Rule{Action: dataplane.ActionAllow, Source: dataplane.EndpointMatch{SetIDs: []string{"missing"}}}},
	}
}

// Golden compares got with the golden file at path, or rewrites the file when
// update is set (the test's -update flag).
func Golden(t *testing.T, path, got string, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got, -update to accept):\n%s", path, diff)
	}
}
