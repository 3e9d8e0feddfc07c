package iptables

import (
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/desired"
)

// kernelView is what the kernel holds, read back for a full sync or a resync.
type kernelView struct {
	tables [2]*kernelTables
	sets   map[string]bool
	// members are our live sets' sorted entries (nil unless read with members).
	members map[string][]string
}

// batch is the work of one sync: ipset input before and after the two filter
// restores (sets must exist before rules use them and go after rules stop using them).
type batch struct {
	setsPre, setsPost strings.Builder
	family            [2]familyBatch
	replacedSets      []string
	destroyedSets     []string
	stats             BatchStats
}

type familyBatch struct {
	writes  []*Chain
	deletes []string
	jumps   map[string][]string // by table
}

func (fb *familyBatch) empty() bool {
	return len(fb.writes) == 0 && len(fb.deletes) == 0 && len(fb.jumps) == 0
}

// text is the iptables-restore --noflush input (a section per table touched), and
// for each input line the chain it writes (to name the culprit of a rejected line).
// Declaring a chain creates or flushes it; deleted chains are declared (flushed)
// first and removed last, after every rule that referred to them is gone.
func (fb *familyBatch) text() (string, map[int]string) {
	var b strings.Builder
	lineChain := map[int]string{}
	n := 0
	line := func(s, chain string) {
		n++
		b.WriteString(s)
		b.WriteByte('\n')
		if chain != "" {
			lineChain[n] = chain
		}
	}
	for _, table := range tables {
		var writes []*Chain
		var deletes []string
		for _, c := range fb.writes {
			if chainTable(c.Name) == table {
				writes = append(writes, c)
			}
		}
		for _, name := range fb.deletes {
			if chainTable(name) == table {
				deletes = append(deletes, name)
			}
		}
		if len(writes)+len(deletes)+len(fb.jumps[table]) == 0 {
			continue
		}
		line("*"+table, "")
		for _, c := range writes {
			line(":"+c.Name+" - [0:0]", c.Name)
		}
		for _, name := range deletes {
			line(":"+name+" - [0:0]", "")
		}
		for _, c := range writes {
			for _, l := range c.Lines() {
				line(l, c.Name)
			}
		}
		for _, j := range fb.jumps[table] {
			line(j, "")
		}
		for _, name := range deletes {
			line("-X "+name, "")
		}
		line("COMMIT", "")
	}
	return b.String(), lineChain
}

// sync renders what is dirty and programs the difference. With kv (a resync) it
// compares every desired chain with the kernel instead of with what it last wrote.
func (d *Dataplane) sync(kv *kernelView) error {
	if err := d.ensureBackend(); err != nil {
		return err
	}
	if d.needFull {
		var err error
		if kv, err = d.readKernel(false); err != nil {
			return err
		}
		d.markAllDirty(kv)
		d.cleanupOtherBackend()
	} else if kv == nil && d.state.Dirty.NAT {
		// The nat jump comes and goes with the nat chain: compare with the kernel.
		var err error
		if kv, err = d.readKernel(false); err != nil {
			return err
		}
	}
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		touched := d.renderDirty()
		b := d.plan(kv, touched)
		err = d.execute(b, kv)
		if err == nil {
			d.needFull = false
			d.state.ResetDirty()
			return nil
		}
		// Carry the touched names over to the next attempt: they are still to write.
		if !d.quarantineCulprit(err) {
			break
		}
		d.log.Warn("iptables rejected a policy; programming it as a drop", zap.Error(err))
	}
	d.stats.Failures++
	return err
}

func (d *Dataplane) ensureBackend() error {
	if d.bins != nil {
		return nil
	}
	mode, why := d.wantMode, "configured"
	if mode == ModeAuto {
		var err error
		if mode, why, err = detectMode(d.run, binariesFor(ModeLegacy), binariesFor(ModeNFT)); err != nil {
			return fmt.Errorf("choosing the iptables backend: %w", err)
		}
	}
	b := binariesFor(mode)
	if _, real := d.run.(execRunner); real {
		if err := b.probe(d.exec); err != nil {
			return err
		}
	}
	d.log.Info("iptables backend chosen", zap.String("mode", string(mode)), zap.String("why", why))
	d.bins = &b
	return nil
}

// readKernel reads our chains and jumps (both families) and our set names, with
// members the sets' entries too.
func (d *Dataplane) readKernel(members bool) (*kernelView, error) {
	kv := &kernelView{}
	for _, fam := range Families {
		// Without -t: every table that exists (filter, nat, ...), creating none.
		out, err := d.run.Run("", d.bins.save[famIndex(fam)])
		if err != nil {
			return nil, fmt.Errorf("reading the IPv%d tables: %w", fam, err)
		}
		kv.tables[famIndex(fam)] = parseSave(out)
	}
	if members {
		out, err := d.run.Run("", "ipset", "save")
		if err != nil {
			return nil, fmt.Errorf("reading ipsets: %w", err)
		}
		kv.sets, kv.members = parseSetSave(out)
		return kv, nil
	}
	out, err := d.run.Run("", "ipset", "list", "-n")
	if err != nil {
		return nil, fmt.Errorf("listing ipsets: %w", err)
	}
	kv.sets = parseSetNames(out)
	return kv, nil
}

// markAllDirty makes the next batch render everything and compare it with kv.
func (d *Dataplane) markAllDirty(kv *kernelView) {
	d.state.MarkAllDirty()
	d.haveSets = kv.sets
}

// touched names the chains rendered or dropped by renderDirty, per family.
type touched [2]map[string]bool

func (t *touched) add(names ...string) {
	for i := range t {
		if t[i] == nil {
			t[i] = map[string]bool{}
		}
		for _, n := range names {
			t[i][n] = true
		}
	}
}

// renderDirty renders every dirty object into want and returns the chain names
// whose content may have changed. Objects that fail closed are logged.
func (d *Dataplane) renderDirty() touched {
	var t touched
	t.add()
	for id := range d.state.Dirty.Policies {
		var chains [2][]*Chain
		if p, ok := d.state.Policies[id]; ok {
			for _, fam := range Families {
				chains[famIndex(fam)] = d.renderPolicy(p, fam)
			}
		}
		d.replaceOwned(policyOwner(id), chains, &t)
	}
	for id := range d.state.Dirty.Profiles {
		var chains [2][]*Chain
		if p, ok := d.state.Profiles[id]; ok {
			for _, fam := range Families {
				chains[famIndex(fam)] = d.renderProfile(p, fam)
			}
		}
		d.replaceOwned(profileOwner(id), chains, &t)
	}
	for key := range d.state.Dirty.Endpoints {
		var chains [2][]*Chain
		if ep, ok := d.state.Endpoints[key]; ok {
			for _, fam := range Families {
				cs, err := RenderEndpoint(ep, fam, d.state.PolicyKnown, d.state.ProfileKnown, d.opt)
				if err != nil && fam == IPv4 {
					d.log.Error("endpoint not programmed (a workload interface is dropped as unknown, a host interface left alone)",
						zap.String("endpoint", key), zap.Error(err))
				}
				chains[famIndex(fam)] = cs
			}
		}
		d.replaceOwned(endpointOwner(key), chains, &t)
	}
	if len(d.state.Dirty.Endpoints) > 0 || d.state.Dirty.Base { // base: a full sync, maybe with no endpoint
		cs := DispatchChains(d.programmableEndpoints())
		d.replaceOwned(dispatchOwner, [2][]*Chain{cs, cs}, &t)
	}
	if d.state.Dirty.NAT {
		var chains [2][]*Chain
		for _, fam := range Families {
			if c := NATChain(d.state.NAT, fam, d.bins.hasRandomFully); c != nil {
				chains[famIndex(fam)] = []*Chain{c}
			}
		}
		d.replaceOwned(natOwner, chains, &t)
	}
	if d.state.Dirty.Base {
		d.replaceOwned(baseOwner, [2][]*Chain{BaseChains(IPv4, d.state.Config, d.opt), BaseChains(IPv6, d.state.Config, d.opt)}, &t)
	}
	return t
}

func (d *Dataplane) renderPolicy(p *dataplane.Policy, fam Family) []*Chain {
	if err, bad := d.state.Quarantine[policyOwner(p.ID)]; bad {
		return quarantinedChains(PolicyChainName(p.ID, true), PolicyChainName(p.ID, false), err)
	}
	cs, err := RenderPolicy(p, fam, d.state.SetInfo, d.opt)
	if err != nil && fam == IPv4 {
		d.log.Error("policy fails closed", zap.String("policy", p.ID.String()), zap.Error(err))
	}
	return cs
}

func (d *Dataplane) renderProfile(p *dataplane.Profile, fam Family) []*Chain {
	if err, bad := d.state.Quarantine[profileOwner(p.ID)]; bad {
		return quarantinedChains(ProfileChainName(p.ID, true), ProfileChainName(p.ID, false), err)
	}
	cs, err := RenderProfile(p, fam, d.state.SetInfo, d.opt)
	if err != nil && fam == IPv4 {
		d.log.Error("profile fails closed", zap.String("profile", p.ID), zap.Error(err))
	}
	return cs
}

// programmableEndpoints are the endpoints with chains, sorted by key (stable dispatch).
func (d *Dataplane) programmableEndpoints() []*dataplane.Endpoint {
	var eps []*dataplane.Endpoint
	for _, key := range desired.SortedKeys(d.state.Endpoints) {
		ep := d.state.Endpoints[key]
		if checkEndpoint(ep) == nil {
			eps = append(eps, ep)
		}
	}
	return eps
}

// replaceOwned makes chains the owner's chains in want, dropping those it no longer has.
func (d *Dataplane) replaceOwned(owner string, chains [2][]*Chain, t *touched) {
	old := d.owner[owner]
	for i := range d.want {
		for _, name := range old {
			delete(d.want[i], name)
		}
	}
	t.add(old...)
	var names []string
	for i, cs := range chains {
		for _, c := range cs {
			d.want[i][c.Name] = c
			t[i][c.Name] = true
			if !slices.Contains(names, c.Name) {
				names = append(names, c.Name)
			}
		}
	}
	if len(names) == 0 {
		delete(d.owner, owner)
		return
	}
	d.owner[owner] = names
}

// plan diffs want against the kernel (kv) or against what we last wrote (touched
// chains only) and fills a batch.
func (d *Dataplane) plan(kv *kernelView, t touched) *batch {
	b := &batch{}
	for _, fam := range Families {
		i := famIndex(fam)
		fb := &b.family[i]
		if kv != nil {
			have := kv.tables[i].chains
			for _, name := range desired.SortedKeys(d.want[i]) {
				if c := d.want[i][name]; !c.sameHashes(have[name]) || have[name] == nil {
					fb.writes = append(fb.writes, c)
				}
			}
			for _, name := range desired.SortedKeys(have) {
				if d.want[i][name] == nil {
					fb.deletes = append(fb.deletes, name)
				}
			}
			fb.jumps = kv.tables[i].jumpFixes(d.wantJumps(i))
		} else {
			for _, name := range desired.SortedKeys(t[i]) {
				c, have := d.want[i][name], d.have[i][name]
				switch {
				case c != nil && (have == nil || !c.sameHashes(have)):
					fb.writes = append(fb.writes, c)
				case c == nil && have != nil:
					fb.deletes = append(fb.deletes, name)
				}
			}
		}
		b.stats.ChainsWritten += len(fb.writes)
		b.stats.ChainsDeleted += len(fb.deletes)
		for _, lines := range fb.jumps {
			b.stats.JumpsFixed += len(lines) // lines; 1 per jump when only inserting
		}
		for _, c := range fb.writes {
			b.stats.RulesWritten += len(c.Rules)
		}
	}
	d.planSets(b, kv)
	return b
}

// planSets fills the ipset parts of the batch.
func (d *Dataplane) planSets(b *batch, kv *kernelView) {
	if kv != nil {
		for _, name := range desired.SortedKeys(kv.sets) {
			if name[5] == 't' { // a temporary set left by an interrupted update
				b.setsPre.WriteString("destroy " + name + "\n")
			}
		}
	}
	ids := desired.SortedKeys(d.state.Dirty.Sets)
	for _, id := range ids {
		ms, ok := d.state.Sets[id]
		if !ok {
			continue
		}
		for _, s := range RenderSet(ms.ToIPSet(id)) {
			writeSetReplace(&b.setsPre, s)
			b.replacedSets = append(b.replacedSets, s.Name)
			b.stats.SetsReplaced++
		}
	}
	for _, id := range desired.SortedKeys(d.state.Dirty.Deltas) {
		ms, ok := d.state.Sets[id]
		if !ok || d.state.Dirty.Sets[id] {
			continue
		}
		d.planDelta(b, id, ms)
	}
	for _, name := range d.setsToDestroy(ids, kv) {
		b.setsPost.WriteString("destroy " + name + "\n")
		b.destroyedSets = append(b.destroyedSets, name)
		b.stats.SetsDestroyed++
	}
}

// setsToDestroy: the sets of removed IDs that exist, and after a read-back every live
// set of ours nobody wants.
func (d *Dataplane) setsToDestroy(dirtyIDs []string, kv *kernelView) []string {
	var out []string
	if kv == nil {
		for _, id := range dirtyIDs {
			if _, ok := d.state.Sets[id]; ok {
				continue
			}
			for _, kind := range []dataplane.SetKind{dataplane.SetKindNets, dataplane.SetKindNamedPort} {
				for _, fam := range Families {
					if name := SetName(id, kind, fam); d.haveSets[name] {
						out = append(out, name)
					}
				}
			}
		}
		return out
	}
	wanted := map[string]bool{}
	for id, ms := range d.state.Sets {
		for _, fam := range Families {
			wanted[SetName(id, ms.Kind(), fam)] = true
		}
	}
	for _, name := range desired.SortedKeys(d.haveSets) {
		if !wanted[name] && name[5] == '0' {
			out = append(out, name)
		}
	}
	return out
}

func (d *Dataplane) planDelta(b *batch, id string, ms *desired.MemberSet) {
	done := map[string]bool{}
	for _, m := range d.state.Dirty.Deltas[id] {
		present := ms.Has(m)
		for _, e := range memberEntries(ms.Kind(), m) {
			name := SetName(id, ms.Kind(), e.fam)
			key := name + " " + e.text
			if done[key] {
				continue
			}
			done[key] = true
			switch {
			case present:
				b.setsPre.WriteString("add -exist " + key + "\n")
				b.stats.EntryAdds++
			case !wantsEntry(ms, m, e):
				b.setsPre.WriteString("del -exist " + key + "\n")
				b.stats.EntryDeletes++
			}
		}
	}
}

// execute runs the batch: sets first, then each family's filter table, then set
// removals. What succeeded is recorded even if a later step fails.
func (d *Dataplane) execute(b *batch, kv *kernelView) error {
	if b.setsPre.Len() > 0 {
		b.stats.Commands++
		if _, err := d.run.Run(b.setsPre.String(), "ipset", "restore"); err != nil {
			return fmt.Errorf("updating ipsets: %w", err)
		}
		for _, name := range b.replacedSets {
			d.haveSets[name] = true
		}
		// Done: a retry of this sync must not write them again.
		d.state.Dirty.Sets, d.state.Dirty.Deltas = map[string]bool{}, map[string][]dataplane.SetMember{}
		if kv != nil {
			for name := range kv.sets {
				if name[5] == 't' {
					delete(kv.sets, name)
				}
			}
		}
	}
	for _, fam := range Families {
		i := famIndex(fam)
		fb := &b.family[i]
		if kv != nil {
			// From now on the kernel's chains are the reference.
			d.have[i] = map[string][]string{}
			for name, h := range kv.tables[i].chains {
				d.have[i][name] = h
			}
		}
		if fb.empty() {
			continue
		}
		text, lineChain := fb.text() // one transaction per family (atomic per table)
		b.stats.Commands++
		if _, err := d.run.Run(text, d.bins.restore[i], "--noflush", "--wait"); err != nil {
			return &restoreError{fam: fam, chain: culpritChain(err, lineChain), err: err}
		}
		for _, c := range fb.writes {
			d.have[i][c.Name] = c.Hashes()
		}
		for _, name := range fb.deletes {
			delete(d.have[i], name)
		}
		if kv != nil {
			kv.tables[i] = settled(d.have[i], d.wantJumps(i))
		}
	}
	if b.setsPost.Len() > 0 {
		b.stats.Commands++
		if _, err := d.run.Run(b.setsPost.String(), "ipset", "restore"); err != nil {
			// Harmless to keep: retried by the next read-back.
			d.log.Warn("destroying unused ipsets failed", zap.Error(err))
		} else {
			for _, name := range b.destroyedSets {
				delete(d.haveSets, name)
			}
		}
	}
	if b.stats.Commands > 0 {
		d.stats.Batches++
		d.last = b.stats
	}
	return nil
}

// wantJumps is the jumps family i needs: the nat jump only with the nat chain.
func (d *Dataplane) wantJumps(i int) []jumpSpec {
	return jumpsFor(d.want[i][ChainNATOutgoing] != nil)
}
