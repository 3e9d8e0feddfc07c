package nftables

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/backendtest"
	"github.com/palisadenet/palisade/internal/netnstest"
)

// allowFromSetState: b allows TCP 8080 from the members of set "sel-allowed" (a only).
var allowFromSetState = backendtest.AllowFromSetState

func TestSetMemberChangeSendsOnlyElementOps(t *testing.T) {
	n := newNode(t)
	n.apply(t, allowFromSetState()...)
	n.check(t, probe{"c", "tcp", addrB, 8080, false}, probe{"a", "tcp", addrB, 8080, true})

	add := &dataplane.SetDelta{ID: "sel-allowed", Added: []dataplane.SetMember{{Prefix: netip.PrefixFrom(addrC, 32)}}}
	n.apply(t, add)
	ops := n.dp.LastBatch()
	if ops.NonElement() != 0 || ops.ElementAdds != 2 || ops.ElementDeletes != 0 {
		t.Errorf("adding one member: ops = %+v, want only 2 element adds (interval start and end)", ops)
	}
	n.check(t, probe{"c", "tcp", addrB, 8080, true})

	remove := &dataplane.SetDelta{ID: "sel-allowed", Removed: []dataplane.SetMember{{Prefix: netip.PrefixFrom(addrA, 32)}}}
	n.apply(t, remove)
	ops = n.dp.LastBatch()
	if ops.NonElement() != 0 || ops.ElementDeletes != 2 || ops.ElementAdds != 0 {
		t.Errorf("removing one member: ops = %+v, want only 2 element deletes", ops)
	}
	n.check(t, probe{"a", "tcp", addrB, 8080, false}, probe{"c", "tcp", addrB, 8080, true},
		probe{"a", "tcp", addrB6, 8080, true}) // a's IPv6 address is still a member
}

func TestNewEndpointAddsOnlyItsChainsAndMapEntries(t *testing.T) {
	n := newNode(t)
	objs := allowFromSetState()
	n.apply(t, objs[:len(objs)-2]...) // without c and b
	n.apply(t, wl("ns/c", ifaceC))
	ops := n.dp.LastBatch()
	// Two chains (from-, to-), their 3 rules each, one entry in each dispatch map.
	want := OpCounts{Messages: 10, Chains: 2, Rules: 6, ElementAdds: 2}
	if ops != want {
		t.Errorf("new endpoint ops = %+v, want %+v", ops, want)
	}
	n.check(t, probe{"c", "icmp", addrA, 0, true})
}

func TestEstablishedConnectionSurvivesReapply(t *testing.T) {
	n := newNode(t)
	objs := allowFromSetState()
	n.apply(t, objs...)
	conn, err := n.a.DialTCP(netip.AddrPortFrom(addrB, 8080), allow)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := netnstest.Echo(conn, allow); err != nil {
		t.Fatal(err)
	}
	// Re-apply the policy with an extra rule: its chain is flushed and rewritten.
	p := objs[1].(*dataplane.Policy)
	p2 := *p
	p2.Inbound = append([]dataplane.Rule{{ID: "log", Action: dataplane.ActionLog, LogPrefix: "probe"}}, p.Inbound...)
	n.apply(t, &p2)
	if ops := n.dp.LastBatch(); ops.Chains != 1 || ops.Rules != 3 {
		t.Errorf("policy re-apply ops = %+v, want one chain flush and its 3 rules", ops)
	}
	if err := netnstest.Echo(conn, allow); err != nil {
		t.Errorf("established connection broken by re-apply: %v", err)
	}
	n.check(t, probe{"a", "tcp", addrB, 8080, true}, probe{"c", "tcp", addrB, 8080, false})
}

func TestResyncRepairsDeletedTable(t *testing.T) {
	n := newNode(t)
	n.apply(t, allowFromSetState()...)
	if err := n.dp.Resync(); err != nil {
		t.Fatal(err)
	}
	if st := n.dp.Stats(); st.Repairs != 0 || st.Batches != 1 {
		t.Fatalf("resync without drift: stats %+v, want no repair and no batch", st)
	}
	n.ns.MustRun(t, "nft", "delete", "table", "inet", "palisade")
	n.check(t, probe{"c", "tcp", addrB, 8080, true}) // open while the table is gone
	if err := n.dp.Resync(); err != nil {
		t.Fatal(err)
	}
	if st := n.dp.Stats(); st.Repairs != 1 {
		t.Errorf("stats after drift %+v, want one repair", st)
	}
	n.check(t, probe{"c", "tcp", addrB, 8080, false}, probe{"a", "tcp", addrB, 8080, true})

	// A chain emptied behind our back is also drift.
	n.ns.MustRun(t, "nft", "flush", "chain", "inet", "palisade", ChainForwardIngress)
	if err := n.dp.Resync(); err != nil {
		t.Fatal(err)
	}
	n.check(t, probe{"c", "tcp", addrB, 8080, false})
	// Incremental updates keep working after a repair.
	n.apply(t, &dataplane.SetDelta{ID: "sel-allowed", Added: []dataplane.SetMember{{Prefix: netip.PrefixFrom(addrC, 32)}}})
	n.check(t, probe{"c", "tcp", addrB, 8080, true})
}

func TestResyncLeavesOtherTablesAlone(t *testing.T) {
	n := newNode(t)
	n.ns.MustRun(t, "nft", "add", "table", "ip", "user")
	n.ns.MustRun(t, "nft", "add", "chain", "ip", "user", "c")
	n.apply(t, allowFromSetState()...)
	n.ns.MustRun(t, "nft", "delete", "table", "inet", "palisade")
	if err := n.dp.Resync(); err != nil {
		t.Fatal(err)
	}
	out := n.ns.MustRun(t, "nft", "list", "tables")
	if want := "table ip user\ntable inet palisade\n"; out != want {
		t.Errorf("tables = %q, want %q", out, want)
	}
}

// TestNestedNetDeltas: a net covering existing members replaces their elements
// (the kernel rejects overlapping intervals), and removing it brings them back.
func TestNestedNetDeltas(t *testing.T) {
	n := newNode(t)
	n.apply(t, allowFromSetState()...)
	wide := dataplane.SetMember{Prefix: netip.MustParsePrefix("10.65.0.0/24")}
	n.apply(t, &dataplane.SetDelta{ID: "sel-allowed", Added: []dataplane.SetMember{wide}})
	if ops := n.dp.LastBatch(); ops.NonElement() != 0 || ops.ElementAdds != 2 || ops.ElementDeletes != 2 {
		t.Errorf("adding a covering net: ops = %+v, want 2 adds and 2 deletes", ops)
	}
	n.check(t, probe{"c", "tcp", addrB, 8080, true}, probe{"a", "tcp", addrB, 8080, true})
	n.apply(t, &dataplane.SetDelta{ID: "sel-allowed", Removed: []dataplane.SetMember{wide}})
	n.check(t, probe{"c", "tcp", addrB, 8080, false}, probe{"a", "tcp", addrB, 8080, true})
}

// TestFirstMemberOfAFamilyAddsRules: rules needing a set that is empty in one family
// are left out for that family; the first member of that family brings them in and
// removing the last one takes them out again.
func TestFirstMemberOfAFamilyAddsRules(t *testing.T) {
	n := newNode(t)
	objs := allowFromSetState()
	objs[0] = netsSet("sel-allowed", "10.65.0.1/32") // IPv4 only
	n.apply(t, objs...)
	n.check(t, probe{"a", "tcp", addrB, 8080, true}, probe{"a", "tcp", addrB6, 8080, false})
	a6 := dataplane.SetMember{Prefix: netip.PrefixFrom(addrA6, 128)}
	n.apply(t, &dataplane.SetDelta{ID: "sel-allowed", Added: []dataplane.SetMember{a6}})
	if ops := n.dp.LastBatch(); ops.Rules == 0 {
		t.Errorf("first IPv6 member: ops = %+v, want the policy's rules rewritten", ops)
	}
	n.check(t, probe{"a", "tcp", addrB6, 8080, true})
	n.apply(t, &dataplane.SetDelta{ID: "sel-allowed", Removed: []dataplane.SetMember{a6}})
	n.check(t, probe{"a", "tcp", addrB6, 8080, false}, probe{"a", "tcp", addrB, 8080, true})
}

// TestRemovals: removing a policy still referenced by an endpoint fails that endpoint
// closed (the chain goes, the endpoint's jump becomes a drop, in one transaction);
// removing an endpoint drops its interface as unknown; removed objects leave no chains.
func TestRemovals(t *testing.T) {
	n := newNode(t)
	objs := allowFromSetState()
	n.apply(t, objs...)
	p := objs[1].(*dataplane.Policy)
	if err := n.dp.Apply([]dataplane.Update{{PolicyRemove: &p.ID}}); err != nil {
		t.Fatalf("removing a referenced policy: %v", err)
	}
	n.check(t, probe{"a", "tcp", addrB, 8080, false}, probe{"b", "icmp", addrA, 0, true})
	if out := n.ns.MustRun(t, "nft", "list", "chains"); strings.Contains(out, PolicyChainName(p.ID, true)) {
		t.Errorf("policy chain still present:\n%s", out)
	}
	n.apply(t, "ns/a")
	n.check(t, probe{"a", "icmp", addrC, 0, false}, probe{"b", "icmp", addrC, 0, true})
	if out := n.ns.MustRun(t, "nft", "list", "chains"); strings.Contains(out, EndpointChainName(ifaceA, false)) {
		t.Errorf("endpoint chain still present:\n%s", out)
	}
	if err := n.dp.Apply([]dataplane.Update{{SetRemove: "sel-allowed"}, {ProfileRemove: "kns.ns"}}); err != nil {
		t.Fatalf("removing set and profile: %v", err)
	}
	n.check(t, probe{"b", "icmp", addrC, 0, false}) // no profile: default deny
	if out := n.ns.MustRun(t, "nft", "list", "sets"); strings.Contains(out, "s4-") {
		t.Errorf("set still present:\n%s", out)
	}
}

// TestNothingProgrammedBeforeInSync: a partial snapshot must not replace a table left
// by a previous run (it would cut off pods not yet in the snapshot).
func TestNothingProgrammedBeforeInSync(t *testing.T) {
	n := newNode(t)
	n.ns.MustRun(t, "nft", "add", "table", "inet", "palisade") // "left by a previous run"
	partial := updatesOf(allowProfile("ns"), wl("ns/a", ifaceA))
	if err := n.dp.Apply(partial[:len(partial)-1]); err != nil { // without InSync
		t.Fatal(err)
	}
	if err := n.dp.Resync(); err != nil {
		t.Fatal(err)
	}
	if st := n.dp.Stats(); st.Batches != 0 {
		t.Fatalf("stats %+v: programmed before InSync", st)
	}
	n.check(t, probe{"a", "tcp", addrB, 8080, true}) // old (empty) table still in force
	if err := n.dp.Apply([]dataplane.Update{{InSync: true}}); err != nil {
		t.Fatal(err)
	}
	n.check(t, probe{"a", "tcp", addrB, 8080, false}) // b is not an endpoint: dropped
}
