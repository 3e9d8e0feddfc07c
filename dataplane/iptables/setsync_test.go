package iptables

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/backendtest"
)

func TestParseSetSaveNormalizes(t *testing.T) {
	v4, v6 := SetName("s", dataplane.SetKindNets, IPv4), SetName("s", dataplane.SetKindNets, IPv6)
	np := SetName("np", dataplane.SetKindNamedPort, IPv4)
	out := "create user-set hash:ip family inet hashsize 1024 maxelem 65536\nadd user-set 10.0.0.9\n" +
		"create " + v4 + " hash:net family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x06350418\n" +
		"add " + v4 + " 10.0.0.0/8\nadd " + v4 + " 10.0.0.1\n" +
		"create " + v6 + " hash:net family inet6 hashsize 1024 maxelem 1048576\nadd " + v6 + " fd00::1\n" +
		"create " + np + " hash:ip,port family inet hashsize 1024 maxelem 1048576\nadd " + np + " 10.0.0.1,tcp:80\n"
	names, entries := parseSetSave(out)
	if diff := cmp.Diff(map[string]bool{v4: true, v6: true, np: true}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	want := map[string][]string{v4: {"10.0.0.0/8", "10.0.0.1/32"}, v6: {"fd00::1/128"}, np: {"10.0.0.1,tcp:80"}}
	if diff := cmp.Diff(want, entries); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

// TestStaleSets: a desired set whose kernel entries lack one, have a stray one, or
// are missing a family's set is stale; equal contents (in ipset's own printing) are not.
func TestStaleSets(t *testing.T) {
	dp, err := New(zaptest.NewLogger(t), withRunner(&fakeRunner{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dp.state.FoldAll(backendtest.UpdatesOf(backendtest.NetsSet("a", "10.0.0.1/32", "fd00::1/128"), backendtest.NetsSet("b", "10.0.0.2/32"))); err != nil {
		t.Fatal(err)
	}
	a4, a6 := SetName("a", dataplane.SetKindNets, IPv4), SetName("a", dataplane.SetKindNets, IPv6)
	b4, b6 := SetName("b", dataplane.SetKindNets, IPv4), SetName("b", dataplane.SetKindNets, IPv6)
	save := func(lines ...string) *kernelView {
		kv := &kernelView{}
		kv.sets, kv.members = parseSetSave(strings.Join(lines, "\n"))
		return kv
	}
	creates := []string{"create " + a4 + " hash:net family inet", "create " + a6 + " hash:net family inet6",
		"create " + b4 + " hash:net family inet", "create " + b6 + " hash:net family inet6"}
	for _, tc := range []struct {
		name    string
		kv      *kernelView
		want    []string
		wantWhy string
	}{
		{"equal", save(append(creates, "add "+a4+" 10.0.0.1", "add "+a6+" fd00::1", "add "+b4+" 10.0.0.2")...), nil, ""},
		{"lacks", save(append(creates, "add "+a6+" fd00::1", "add "+b4+" 10.0.0.2")...), []string{"a"}, "lacks 10.0.0.1/32"},
		{"stray", save(append(creates, "add "+a4+" 10.0.0.1", "add "+a6+" fd00::1", "add "+b4+" 10.0.0.2", "add "+b6+" fd00::9")...), []string{"b"}, "has stray fd00::9/128"},
		{"missing", save(creates[1:]...), []string{"a", "b"}, a4 + " missing"},
	} {
		ids, why := dp.staleSets(tc.kv)
		if diff := cmp.Diff(tc.want, ids); diff != "" {
			t.Errorf("%s: stale sets (-want +got):\n%s", tc.name, diff)
		}
		if !strings.Contains(why, tc.wantWhy) || (tc.wantWhy == "") != (why == "") {
			t.Errorf("%s: why %q, want one containing %q", tc.name, why, tc.wantWhy)
		}
	}
}

// TestResyncRepairsSetContents: with each backend, a member deleted from one of our
// ipsets or a stray one added behind our back is found by the next resync, which
// swaps in the desired content of that set only (no chain written), and traffic
// gets its verdicts back.
func TestResyncRepairsSetContents(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode Mode) {
		n := newNode(t, mode)
		n.Apply(t, backendtest.AllowFromSetState()...)
		if err := n.dp.Resync(); err != nil {
			t.Fatal(err)
		}
		if st := n.dp.Stats(); st.Repairs != 0 {
			t.Fatalf("resync right after programming repaired something: %+v", st)
		}
		set := SetName("sel-allowed", dataplane.SetKindNets, IPv4)
		probeA := backendtest.Probe{From: "a", Proto: "tcp", Dst: addrB, Port: 8080, Allowed: true}
		probeC := backendtest.Probe{From: "c", Proto: "tcp", Dst: addrB, Port: 8080}

		n.NS.MustRun(t, "ipset", "del", set, addrA.String())
		n.Check(t, backendtest.Probe{From: "a", Proto: "tcp", Dst: addrB, Port: 8080})
		if err := n.dp.Resync(); err != nil {
			t.Fatal(err)
		}
		if st, last := n.dp.Stats(), n.dp.LastBatch(); st.Repairs != 1 || last.SetsReplaced != 2 || last.ChainsWritten != 0 {
			t.Errorf("after a deleted member: stats %+v, last %+v; want one repair replacing the set's two families, no chain", st, last)
		}
		n.Check(t, probeA, probeC)

		n.NS.MustRun(t, "ipset", "add", set, addrC.String())
		n.Check(t, backendtest.Probe{From: "c", Proto: "tcp", Dst: addrB, Port: 8080, Allowed: true})
		if err := n.dp.Resync(); err != nil {
			t.Fatal(err)
		}
		if st := n.dp.Stats(); st.Repairs != 2 {
			t.Errorf("after a stray member: stats %+v, want a second repair", st)
		}
		n.Check(t, probeA, probeC)
		if got := n.NS.MustRun(t, "ipset", "list", set); strings.Contains(got, addrC.String()) {
			t.Errorf("stray member still in the set:\n%s", got)
		}
		// Deltas keep working after the swap.
		n.Apply(t, &dataplane.SetDelta{ID: "sel-allowed", Added: []dataplane.SetMember{{Prefix: prefix32(addrC)}}})
		n.Check(t, backendtest.Probe{From: "c", Proto: "tcp", Dst: addrB, Port: 8080, Allowed: true})
		if err := n.dp.Resync(); err != nil {
			t.Fatal(err)
		}
		if st := n.dp.Stats(); st.Repairs != 2 {
			t.Errorf("resync after a delta repaired something: %+v", st)
		}
	})
}
