package nftables

import (
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/internal/netnstest"
)

// TestResyncRepairsDriftInsideChainsAndSets: changes made behind the agent's back
// inside a policy set or a non-base chain open or close traffic; the next Resync sees
// them and restores the programmed rules.
func TestResyncRepairsDriftInsideChainsAndSets(t *testing.T) {
	set4 := SetName("sel-allowed", dataplane.SetKindNets, IPv4)
	policyChain := PolicyChainName(pid("default", "allow-from-set"), true)
	for _, tc := range []struct {
		name    string
		drift   []string // nft arguments
		drifted probe    // what the drift changed
	}{
		{"element deleted from a policy set", []string{"delete", "element", "inet", TableName, set4, "{ 10.65.0.1 }"},
			probe{"a", "tcp", addrB, 8080, false}},
		{"foreign element added to a policy set", []string{"add", "element", "inet", TableName, set4, "{ 10.65.0.3 }"},
			probe{"c", "tcp", addrB, 8080, true}},
		{"policy chain flushed", []string{"flush", "chain", "inet", TableName, policyChain},
			probe{"a", "tcp", addrB, 8080, false}},
		{"rule inserted into a policy chain", []string{"insert", "rule", "inet", TableName, policyChain, "accept"},
			probe{"c", "tcp", addrB, 8080, true}},
		{"endpoint chain rule replaced", nil, probe{"c", "tcp", addrB, 8080, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			n.apply(t, allowFromSetState()...)
			drift := tc.drift
			if drift == nil {
				// Replace b's ingress chain's first rule (the jump to its policy) with accept.
				drift = []string{"replace", "rule", "inet", TableName, EndpointChainName(ifaceB, true), "handle", firstHandle(t, n, EndpointChainName(ifaceB, true)), "accept"}
			}
			n.ns.MustRun(t, append([]string{"nft"}, drift...)...)
			n.check(t, tc.drifted)
			if err := n.dp.Resync(); err != nil {
				t.Fatal(err)
			}
			if st := n.dp.Stats(); st.Repairs != 1 {
				t.Errorf("stats %+v, want one repair", st)
			}
			n.check(t, probe{"a", "tcp", addrB, 8080, true}, probe{"c", "tcp", addrB, 8080, false})
			if err := n.dp.Resync(); err != nil {
				t.Fatal(err)
			}
			if st := n.dp.Stats(); st.Repairs != 1 {
				t.Errorf("a second resync after the repair: stats %+v, want still one repair", st)
			}
		})
	}
}

// firstHandle returns the handle of a chain's first rule, read with nft -a.
func firstHandle(t *testing.T, n *node, chain string) string {
	t.Helper()
	out := n.ns.MustRun(t, "nft", "-a", "list", "chain", "inet", TableName, chain)
	var h int
	for _, line := range splitLines(out) {
		if _, err := fmt.Sscanf(lastField(line, "# handle "), "%d", &h); err == nil && !hasPrefixTrim(line, "chain") {
			return fmt.Sprint(h)
		}
	}
	t.Fatalf("no rule handle in:\n%s", out)
	return ""
}

// TestResyncSeesNoDriftInAFullTable: right after programming, every chain's rule
// fingerprints and every set's elements (intervals up to the top of the address
// space, named-port triples, dispatch maps) read back equal, so Resync repairs
// nothing.
func TestResyncSeesNoDriftInAFullTable(t *testing.T) {
	netnstest.Require(t, "nft")
	ns := netnstest.New(t, "node")
	dp, err := New(zaptest.NewLogger(t), WithNetNSFd(ns.Open(t)), WithResyncBudget(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dp.Close() })
	s := fullState(dataplane.Config{EndpointToHostAction: dataplane.ActionAllow})
	s.Add(netsSet("wide", "0.0.0.0/0", "::/0", "10.0.0.0/8"), netsSet("top", "255.255.255.255/32", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "0.0.0.0/32"))
	var objs []any
	for _, o := range s.Sets {
		objs = append(objs, o)
	}
	for _, o := range s.Policies {
		objs = append(objs, o)
	}
	for _, o := range s.Endpoints {
		objs = append(objs, o)
	}
	objs = append(objs, allowProfile("ns"))
	if err := dp.Apply(updatesOf(objs...)); err != nil {
		t.Fatal(err)
	}
	if err := dp.Resync(); err != nil {
		t.Fatal(err)
	}
	if st := dp.Stats(); st.Repairs != 0 {
		t.Fatalf("resync of an untouched table repaired it: %+v", st)
	}
}

// TestResyncBudgetSweepsEverything: with a budget of one set per call, drift in any
// set is still found within as many calls as there are sets.
func TestResyncBudgetSweepsEverything(t *testing.T) {
	n := newNode(t)
	dp, err := New(zaptest.NewLogger(t), WithNetNSFd(n.ns.Open(t)), WithResyncBudget(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dp.Close() })
	n.dp = dp
	n.apply(t, allowFromSetState()...)
	n.ns.MustRun(t, "nft", "delete", "element", "inet", TableName, SetName("sel-allowed", dataplane.SetKindNets, IPv4), "{ 10.65.0.1 }")
	calls := 0
	for n.dp.Stats().Repairs == 0 && calls < 50 {
		if err := n.dp.Resync(); err != nil {
			t.Fatal(err)
		}
		calls++
	}
	if n.dp.Stats().Repairs != 1 {
		t.Fatalf("drift in a policy set not found in %d resyncs with budget 1", calls)
	}
	t.Logf("found after %d resyncs", calls)
	n.check(t, probe{"a", "tcp", addrB, 8080, true})
}

func splitLines(s string) []string { return strings.Split(s, "\n") }

func lastField(line, sep string) string {
	if i := strings.LastIndex(line, sep); i >= 0 {
		return line[i+len(sep):]
	}
	return ""
}

func hasPrefixTrim(line, p string) bool { return strings.HasPrefix(strings.TrimSpace(line), p) }
