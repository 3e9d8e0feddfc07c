package nftables

import (
	"fmt"
	"maps"
	"slices"

	nft "github.com/google/nftables"
	"go.uber.org/zap"

	"github.com/palisadenet/palisade/dataplane"
)

// OpCounts counts the netlink operations of one transaction, by kind.
type OpCounts struct {
	Messages       int // every message in the batch
	Tables         int // table add/delete
	Sets           int // named set/map add/delete
	Chains         int // chain add/flush/delete
	Rules          int // rules added
	ElementAdds    int // elements added (interval ranges count start and end)
	ElementDeletes int
}

// NonElement is the number of operations that are not set-element changes.
func (c OpCounts) NonElement() int { return c.Tables + c.Sets + c.Chains + c.Rules }

// batch is one planned transaction, in the order it is sent.
type batch struct {
	replaceTable bool
	addTable     bool
	newSets      []*Set
	elemDel      map[string][]Element // non-map sets
	elemAdd      map[string][]Element
	newChains    []*Chain
	writeChains  []*Chain // rules to (re)write
	flushChains  map[string]bool
	mapDel       map[string][]Element
	mapAdd       map[string][]Element
	delChains    []string
	delSets      []string

	// The applied state after success.
	chainText map[string]string // "" = deleted
	owners    map[string]map[string]bool
	eps       map[string]*EndpointRender // nil = removed
	setElems  map[string]map[Element]bool
	setDefs   map[string]*Set   // nil = deleted
	ifaces    map[string]string // endpoint interfaces claimed in this batch

	counts OpCounts
}

func newBatch(full bool) *batch {
	return &batch{addTable: full, elemDel: map[string][]Element{}, elemAdd: map[string][]Element{},
		flushChains: map[string]bool{}, mapDel: map[string][]Element{}, mapAdd: map[string][]Element{},
		chainText: map[string]string{}, owners: map[string]map[string]bool{}, eps: map[string]*EndpointRender{},
		setElems: map[string]map[Element]bool{}, setDefs: map[string]*Set{}, ifaces: map[string]string{}}
}

// plan renders the dirty objects and diffs them against the applied state.
func (d *Dataplane) plan(full bool) (*batch, error) {
	b := newBatch(full)
	for id := range d.state.Dirty.Sets {
		d.planSet(b, id)
	}
	for id, cands := range d.state.Dirty.Deltas {
		if !d.state.Dirty.Sets[id] {
			d.planDelta(b, id, cands)
		}
	}
	for id := range d.state.Dirty.Policies {
		var chains []*Chain
		if qerr, ok := d.state.Quarantine[policyOwner(id)]; ok && d.state.Policies[id] != nil {
			chains = failClosedChains(PolicyChainName(id, true), PolicyChainName(id, false), "policy "+id.String(), qerr)
		} else if p, ok := d.state.Policies[id]; ok {
			var err error
			if chains, err = RenderPolicy(p, d.state.SetInfo, d.opt); err != nil {
				d.log.Error("policy fails closed", zap.String("policy", id.String()), zap.Error(err))
			}
		}
		if testBreakPolicy != nil && testBreakPolicy(id) && chains != nil && d.state.Quarantine[policyOwner(id)] == nil {
			chains[0].Rules = append(chains[0].Rules, Rule{Verdict: Verdict{Kind: VerdictJump, Chain: "no-such-chain"}})
		}
		d.planChains(b, policyOwner(id), chains)
	}
	for id := range d.state.Dirty.Profiles {
		var chains []*Chain
		if qerr, ok := d.state.Quarantine[profileOwner(id)]; ok && d.state.Profiles[id] != nil {
			chains = failClosedChains(ProfileChainName(id, true), ProfileChainName(id, false), "profile "+id, qerr)
		} else if p, ok := d.state.Profiles[id]; ok {
			var err error
			if chains, err = RenderProfile(p, d.state.SetInfo, d.opt); err != nil {
				d.log.Error("profile fails closed", zap.String("profile", id), zap.Error(err))
			}
		}
		d.planChains(b, profileOwner(id), chains)
	}
	for key := range d.state.Dirty.Endpoints {
		d.planEndpoint(b, key)
	}
	if d.state.Dirty.Base || d.state.Dirty.NAT {
		for _, m := range AllMaps() {
			if _, ok := d.applied.sets[m.Name]; !ok {
				b.newSets = append(b.newSets, m)
				b.setDefs[m.Name] = m
			}
		}
		d.planChains(b, "base", append(hostChains(d.opt.withConfig(d.state.Config)), BaseChains(d.state.Config)...))
		d.planChains(b, "nat", NATChains(d.state.NAT))
	}
	return b, nil
}

func (d *Dataplane) planSet(b *batch, id string) {
	var rendered []*Set
	if ms, ok := d.state.Sets[id]; ok {
		rendered = RenderSet(ms.ToIPSet(id))
	}
	keep := map[string]bool{}
	for _, s := range rendered {
		keep[s.Name] = true
		want := make(map[Element]bool, len(s.Elements))
		for _, e := range s.Elements {
			want[e] = true
		}
		old, exists := d.applied.sets[s.Name]
		if !exists {
			b.newSets = append(b.newSets, s)
			b.setDefs[s.Name] = s
			b.elemAdd[s.Name] = s.Elements
			b.setElems[s.Name] = want
			continue
		}
		for e := range old.elems {
			if !want[e] {
				b.elemDel[s.Name] = append(b.elemDel[s.Name], e)
			}
		}
		for _, e := range s.Elements {
			if _, ok := old.elems[e]; !ok {
				b.elemAdd[s.Name] = append(b.elemAdd[s.Name], e)
			}
		}
		b.setElems[s.Name] = want
	}
	// Names of the set under either kind that are no longer wanted.
	for _, kind := range []dataplane.SetKind{dataplane.SetKindNets, dataplane.SetKindNamedPort} {
		for _, fam := range []Family{IPv4, IPv6} {
			name := SetName(id, kind, fam)
			if _, ok := d.applied.sets[name]; ok && !keep[name] {
				b.delSets = append(b.delSets, name)
				b.setDefs[name] = nil
			}
		}
	}
}

// planDelta turns member changes into element operations only.
func (d *Dataplane) planDelta(b *batch, id string, cands []dataplane.SetMember) {
	ms, ok := d.state.Sets[id]
	if !ok {
		return
	}
	seen := map[Element]bool{}
	for _, c := range cands {
		el, want := element(ms, c)
		if seen[el] {
			continue
		}
		seen[el] = true
		fam := IPv4
		if el.Start.Is6() {
			fam = IPv6
		}
		name := SetName(id, ms.Kind(), fam)
		applied, ok := d.applied.sets[name]
		if !ok {
			continue // the set itself is new: planSet covers it
		}
		_, have := applied.elems[el]
		switch {
		case want && !have:
			b.elemAdd[name] = append(b.elemAdd[name], el)
		case !want && have:
			b.elemDel[name] = append(b.elemDel[name], el)
		}
	}
}

// planChains makes the chains owned by owner equal to chains.
func (d *Dataplane) planChains(b *batch, owner string, chains []*Chain) {
	names := map[string]bool{}
	for _, c := range chains {
		names[c.Name] = true
		text := chainText(c)
		old, exists := d.applied.chains[c.Name]
		switch {
		case !exists:
			b.newChains = append(b.newChains, c)
			b.writeChains = append(b.writeChains, c)
		case old != text:
			b.flushChains[c.Name] = true
			b.writeChains = append(b.writeChains, c)
		}
		b.chainText[c.Name] = text
	}
	for name := range d.applied.owner[owner] {
		if !names[name] {
			b.delChains = append(b.delChains, name)
			b.chainText[name] = ""
		}
	}
	b.owners[owner] = names
}

func (d *Dataplane) planEndpoint(b *batch, key string) {
	var r *EndpointRender
	if ep, ok := d.state.Endpoints[key]; ok {
		var err error
		other := d.ifaceTakenBy(ep.Iface, key)
		if b.ifaces[ep.Iface] != "" && b.ifaces[ep.Iface] != key {
			other = b.ifaces[ep.Iface]
		}
		if other == "" {
			b.ifaces[ep.Iface] = key
		}
		if other != "" {
			d.log.Error("endpoint not programmed: interface already used by another endpoint",
				zap.String("endpoint", key), zap.String("iface", ep.Iface), zap.String("other", other))
		} else if r, err = RenderEndpoint(ep, d.state.PolicyKnown, d.state.ProfileKnown, d.opt); err != nil {
			d.log.Error("endpoint not programmed; its interface is dropped", zap.String("endpoint", key), zap.Error(err))
		}
	}
	var chains []*Chain
	if r != nil {
		chains = r.Chains
	}
	d.planChains(b, "endpoint:"+key, chains)
	oldEntries, newEntries := mapEntries(d.applied.eps[key]), mapEntries(r)
	for _, e := range oldEntries {
		if !slices.Contains(newEntries, e) {
			b.mapDel[e.m] = append(b.mapDel[e.m], e.e)
		}
	}
	for _, e := range newEntries {
		if !slices.Contains(oldEntries, e) {
			b.mapAdd[e.m] = append(b.mapAdd[e.m], e.e)
		}
	}
	b.eps[key] = r
}

// mapEntry is one verdict-map element and its map.
type mapEntry struct {
	m string
	e Element
}

func mapEntries(r *EndpointRender) []mapEntry {
	if r == nil {
		return nil
	}
	return []mapEntry{{r.FromMap, r.FromElement}, {r.ToMap, r.ToElement}}
}

// ifaceTakenBy names another endpoint programmed (or to be) on iface; the first one
// keeps it, so two endpoints never fight over one pair of chains.
func (d *Dataplane) ifaceTakenBy(iface, key string) string {
	for other, r := range d.applied.eps {
		if other != key && r.FromElement.Iface == iface {
			if _, still := d.state.Endpoints[other]; still && d.state.Endpoints[other].Iface == iface {
				return other
			}
		}
	}
	return ""
}

// commit records a successfully sent batch as the applied state.
func (d *Dataplane) commit(b *batch) {
	for name, text := range b.chainText {
		if text == "" {
			delete(d.applied.chains, name)
		} else {
			d.applied.chains[name] = text
		}
	}
	for owner, names := range b.owners {
		if len(names) == 0 {
			delete(d.applied.owner, owner)
		} else {
			d.applied.owner[owner] = names
		}
	}
	for key, r := range b.eps {
		if r == nil {
			delete(d.applied.eps, key)
		} else {
			d.applied.eps[key] = r
		}
	}
	for name, def := range b.setDefs {
		if def == nil {
			delete(d.applied.sets, name)
		} else if _, ok := d.applied.sets[name]; !ok {
			d.applied.sets[name] = &appliedSet{set: def, elems: map[Element]struct{}{}}
		}
	}
	for name, want := range b.setElems {
		if s, ok := d.applied.sets[name]; ok {
			s.elems = make(map[Element]struct{}, len(want))
			for e := range want {
				s.elems[e] = struct{}{}
			}
		}
	}
	for name, els := range b.elemDel {
		if _, full := b.setElems[name]; !full {
			for _, e := range els {
				delete(d.applied.sets[name].elems, e)
			}
		}
	}
	for name, els := range b.elemAdd {
		if _, full := b.setElems[name]; !full {
			for _, e := range els {
				d.applied.sets[name].elems[e] = struct{}{}
			}
		}
	}
	for _, m := range []string{MapFromWorkload, MapToWorkload, MapHostIngress, MapHostEgress} {
		if s, ok := d.applied.sets[m]; ok {
			for _, e := range b.mapDel[m] {
				delete(s.elems, e)
			}
			for _, e := range b.mapAdd[m] {
				s.elems[e] = struct{}{}
			}
		}
	}
}

// send queues the batch on conn in dependency order and flushes it as one
// transaction: sets and chains exist before anything refers to them, references are
// gone before what they refer to is deleted.
func (b *batch) send(conn *nft.Conn, table *nft.Table) error {
	tx := &sender{b: b, conn: conn, table: table, sets: map[string]*nft.Set{}}
	if b.replaceTable {
		conn.DelTable(table)
		b.counts.Tables++
	}
	if b.addTable {
		conn.AddTable(table)
		b.counts.Tables++
	}
	for _, s := range b.newSets {
		if err := conn.AddSet(tx.set(s.Name), nil); err != nil {
			return fmt.Errorf("adding set %s: %w", s.Name, err)
		}
		b.counts.Sets++
	}
	if err := tx.elements(b.elemDel, false); err != nil {
		return err
	}
	if err := tx.elements(b.elemAdd, true); err != nil {
		return err
	}
	if err := tx.chains(); err != nil {
		return err
	}
	if err := tx.elements(b.mapDel, false); err != nil {
		return err
	}
	if err := tx.elements(b.mapAdd, true); err != nil {
		return err
	}
	tx.deletions()
	b.counts.Messages += b.counts.Tables + b.counts.Sets + b.counts.Chains + b.counts.Rules
	return conn.Flush()
}

// sender queues one batch's messages on a connection.
type sender struct {
	b     *batch
	conn  *nft.Conn
	table *nft.Table
	sets  map[string]*nft.Set // one object per set, so new sets keep their batch ID
}

func (tx *sender) set(name string) *nft.Set {
	if s, ok := tx.sets[name]; ok {
		return s
	}
	s := &nft.Set{Table: tx.table, Name: name}
	if def := tx.b.setDefs[name]; def != nil {
		s = nftSet(def, tx.table)
	}
	tx.sets[name] = s
	return s
}

func (tx *sender) setType(name string) SetType {
	if def := tx.b.setDefs[name]; def != nil {
		return def.Type
	}
	return setTypeFromName(name)
}

// chains adds new chains, then (re)writes the rules of new and changed ones.
func (tx *sender) chains() error {
	c := &tx.b.counts
	for _, ch := range tx.b.newChains {
		tx.conn.AddChain(nftChain(ch, tx.table))
		c.Chains++
	}
	addAnon := func(s *nft.Set, elems []nft.SetElement) error { return tx.conn.AddSet(s, elems) }
	for _, ch := range tx.b.writeChains {
		nc := nftChain(ch, tx.table)
		if tx.b.flushChains[ch.Name] {
			tx.conn.FlushChain(nc)
			c.Chains++
		}
		for _, r := range ch.Rules {
			exprs, err := ruleExprs(r, tx.table, addAnon)
			if err != nil {
				return fmt.Errorf("chain %s rule %q: %w", ch.Name, r.String(), err)
			}
			tx.conn.AddRule(&nft.Rule{Table: tx.table, Chain: nc, Exprs: exprs, UserData: ruleUserData(r)})
			c.Rules++
		}
	}
	return nil
}

// deletions empties and deletes chains (after every reference to them is gone), then
// deletes sets.
func (tx *sender) deletions() {
	c := &tx.b.counts
	for _, name := range tx.b.delChains {
		tx.conn.FlushChain(&nft.Chain{Name: name, Table: tx.table})
		c.Chains++
	}
	for _, name := range tx.b.delChains {
		tx.conn.DelChain(&nft.Chain{Name: name, Table: tx.table})
		c.Chains++
	}
	for _, name := range tx.b.delSets {
		tx.conn.DelSet(tx.set(name))
		c.Sets++
	}
}

// elements adds or deletes elements, at most maxElementsPerMessage per message.
func (tx *sender) elements(byName map[string][]Element, add bool) error {
	c := &tx.b.counts
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		els := setElementsFor(tx.setType(name), byName[name])
		s := tx.set(name)
		for start := 0; start < len(els); start += maxElementsPerMessage {
			chunk := els[start:min(start+maxElementsPerMessage, len(els))]
			var err error
			if add {
				err = tx.conn.SetAddElements(s, chunk)
				c.ElementAdds += len(chunk)
			} else {
				err = tx.conn.SetDeleteElements(s, chunk)
				c.ElementDeletes += len(chunk)
			}
			if err != nil {
				return fmt.Errorf("set %s elements: %w", name, err)
			}
			c.Messages++
		}
	}
	return nil
}

// setTypeFromName recovers a set's type from its name prefix (for sets not
// re-described in this batch).
func setTypeFromName(name string) SetType {
	switch {
	case name == MapFromWorkload || name == MapToWorkload || name == MapHostIngress || name == MapHostEgress:
		return SetIfaceVmap
	case len(name) > 2 && name[:2] == "s4":
		return SetAddr4
	case len(name) > 2 && name[:2] == "s6":
		return SetAddr6
	case len(name) > 2 && name[:2] == "n4":
		return SetNamedPort4
	}
	return SetNamedPort6
}
