package nftables

import (
	"net/netip"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/palisadenet/palisade/dataplane"
)

// dryRun folds updates and plans a batch without a kernel, then records it as applied
// (as a successful Flush would). It checks the planning half of the apply layer
// without root.
type dryRun struct {
	t *testing.T
	d *Dataplane
}

func newDryRun(t *testing.T, objs ...any) *dryRun {
	d, err := New(zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	r := &dryRun{t: t, d: d}
	r.step(updatesOf(objs...)...)
	return r
}

func (r *dryRun) step(updates ...dataplane.Update) *batch {
	r.t.Helper()
	for i := range updates {
		if err := r.d.state.Fold(&updates[i]); err != nil {
			r.t.Fatal(err)
		}
	}
	full := r.d.needFull
	if full {
		r.d.markAllDirty()
	}
	b, err := r.d.plan(full)
	if err != nil {
		r.t.Fatal(err)
	}
	r.d.commit(b)
	r.d.needFull = false
	r.d.state.ResetDirty()
	return b
}

// summary is what a batch touches, by name.
type summary struct {
	NewChains, Written, Flushed, Deleted []string
	ElemAdd, ElemDel, MapAdd, MapDel     int
	NewSets, DelSets                     []string
}

func summarize(b *batch) summary {
	var s summary
	for _, c := range b.newChains {
		s.NewChains = append(s.NewChains, c.Name)
	}
	for _, c := range b.writeChains {
		s.Written = append(s.Written, c.Name)
	}
	for name := range b.flushChains {
		s.Flushed = append(s.Flushed, name)
	}
	s.Deleted = append(s.Deleted, b.delChains...)
	for _, els := range b.elemAdd {
		s.ElemAdd += len(els)
	}
	for _, els := range b.elemDel {
		s.ElemDel += len(els)
	}
	for _, els := range b.mapAdd {
		s.MapAdd += len(els)
	}
	for _, els := range b.mapDel {
		s.MapDel += len(els)
	}
	for _, st := range b.newSets {
		s.NewSets = append(s.NewSets, st.Name)
	}
	s.DelSets = append(s.DelSets, b.delSets...)
	for _, l := range [][]string{s.NewChains, s.Written, s.Flushed, s.Deleted, s.NewSets, s.DelSets} {
		sort.Strings(l)
	}
	return s
}

func TestPlanIsIncremental(t *testing.T) {
	objs := allowFromSetState()
	p := objs[1].(*dataplane.Policy)
	pi := PolicyChainName(p.ID, true)
	changed := *p
	changed.Inbound = append([]dataplane.Rule{{ID: "log", Action: dataplane.ActionLog}}, p.Inbound...)
	member := func(a string) []dataplane.SetMember {
		return []dataplane.SetMember{{Prefix: netip.MustParsePrefix(a)}}
	}
	for _, tc := range []struct {
		name string
		upd  []dataplane.Update
		want summary
	}{
		{"set member added", []dataplane.Update{{SetDeltaUpdate: &dataplane.SetDelta{ID: "sel-allowed", Added: member("10.65.0.3/32")}}},
			summary{ElemAdd: 1}},
		{"set member replaced", []dataplane.Update{{SetDeltaUpdate: &dataplane.SetDelta{ID: "sel-allowed",
			Removed: member("10.65.0.1/32"), Added: member("10.65.0.3/32")}}},
			summary{ElemAdd: 1, ElemDel: 1}},
		{"last IPv4 member removed", []dataplane.Update{{SetDeltaUpdate: &dataplane.SetDelta{ID: "sel-allowed", Removed: member("10.65.0.1/32")}}},
			summary{ElemDel: 1, Written: []string{pi}, Flushed: []string{pi}}}, // the IPv4 rule goes
		{"same policy again", []dataplane.Update{{PolicyUpdate: p}}, summary{}},
		{"policy changed", []dataplane.Update{{PolicyUpdate: &changed}}, summary{Written: []string{pi}, Flushed: []string{pi}}},
		{"endpoint added", []dataplane.Update{{EndpointUpdate: wl("ns/new", "calinew")}},
			summary{NewChains: []string{"from-calinew", "to-calinew"}, Written: []string{"from-calinew", "to-calinew"}, MapAdd: 2}},
		{"endpoint removed", []dataplane.Update{{EndpointRemove: "ns/c"}},
			summary{Deleted: []string{"from-" + ifaceC, "to-" + ifaceC}, MapDel: 2}},
		{"host endpoint added", []dataplane.Update{{EndpointUpdate: hostEndpoint("node1-eth1", "eth1")}},
			summary{NewChains: []string{"hfrom-eth1", "hto-eth1"}, Written: []string{"hfrom-eth1", "hto-eth1"}, MapAdd: 2}},
		{"natOutgoing switched on", []dataplane.Update{{NATUpdate: &dataplane.NATOutgoing{Masquerade: prefixes("10.65.0.0/16"), AllPools: prefixes("10.65.0.0/16")}}},
			summary{NewChains: []string{ChainNATPostrouting}, Written: []string{ChainNATPostrouting}}},
		{"no natOutgoing pool: no nat chain", []dataplane.Update{{NATUpdate: &dataplane.NATOutgoing{AllPools: prefixes("10.65.0.0/16")}}},
			summary{}},
		{"unused set added", []dataplane.Update{{SetUpdate: netsSet("other", "10.1.0.0/16")}},
			summary{NewSets: []string{SetName("other", dataplane.SetKindNets, IPv4), SetName("other", dataplane.SetKindNets, IPv6)}, ElemAdd: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newDryRun(t, objs...)
			got := summarize(r.step(tc.upd...))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("batch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPlanFullThenIncrementalMatchesRender: after any sequence, the applied chain
// texts equal a fresh full render of the same desired state.
func TestPlanFullThenIncrementalMatchesRender(t *testing.T) {
	objs := allowFromSetState()
	r := newDryRun(t, objs...)
	r.step(dataplane.Update{EndpointRemove: "ns/a"}, dataplane.Update{SetDeltaUpdate: &dataplane.SetDelta{ID: "sel-allowed",
		Added: []dataplane.SetMember{{Prefix: netip.MustParsePrefix("10.0.0.0/8")}}}})
	fresh := newDryRun(t, append(objs[:3:3], wl("ns/c", ifaceC), objs[5],
		&dataplane.SetDelta{ID: "sel-allowed", Added: []dataplane.SetMember{{Prefix: netip.MustParsePrefix("10.0.0.0/8")}}})...)
	if diff := cmp.Diff(fresh.d.applied.chains, r.d.applied.chains); diff != "" {
		t.Errorf("incremental chains differ from a fresh full program (-fresh +incremental):\n%s", diff)
	}
	for name, s := range fresh.d.applied.sets {
		if diff := cmp.Diff(s.elems, r.d.applied.sets[name].elems, cmp.Comparer(func(a, b Element) bool { return a == b })); diff != "" {
			t.Errorf("set %s elements differ (-fresh +incremental):\n%s", name, diff)
		}
	}
}

func TestPlanNATSwitchedOffDeletesItsChain(t *testing.T) {
	r := newDryRun(t, append(allowFromSetState(), &dataplane.NATOutgoing{Masquerade: prefixes("10.65.0.0/16")})...)
	if _, ok := r.d.applied.chains[ChainNATPostrouting]; !ok {
		t.Fatal("nat chain not programmed")
	}
	got := summarize(r.step(dataplane.Update{NATUpdate: &dataplane.NATOutgoing{}}))
	if diff := cmp.Diff(summary{Deleted: []string{ChainNATPostrouting}}, got); diff != "" {
		t.Errorf("batch (-want +got):\n%s", diff)
	}
}
