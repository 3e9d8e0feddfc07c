package iptables

import (
	"fmt"
	"slices"
	"sync"

	"go.uber.org/zap"

	"github.com/palisadenet/palisade/dataplane"
)

// Option configures a Dataplane.
type Option func(*Dataplane)

// WithNetNS programs the network namespace at path (for example
// /var/run/netns/<name>) instead of the current one.
func WithNetNS(path string) Option { return func(d *Dataplane) { d.exec.netns = path } }

// WithMode forces a backend instead of detecting the one the host uses.
func WithMode(m Mode) Option { return func(d *Dataplane) { d.wantMode = m } }

// WithRenderOptions sets mark bits and the allow action (see Options).
func WithRenderOptions(o Options) Option { return func(d *Dataplane) { d.opt = o } }

// withRunner replaces command execution (tests without root).
func withRunner(r Runner) Option { return func(d *Dataplane) { d.run = r } }

// Dataplane keeps our chains and ipsets equal to the desired state fed to Apply. It
// remembers what it last programmed and writes only differences. Safe for concurrent
// use.
type Dataplane struct {
	mu       sync.Mutex
	log      *zap.Logger
	exec     execRunner
	run      Runner
	wantMode Mode
	bins     *binaries // nil until the first sync picks the backend
	opt      Options

	// Desired state.
	sets      map[string]*memberSet
	policies  map[dataplane.PolicyID]*dataplane.Policy
	profiles  map[string]*dataplane.Profile
	endpoints map[string]*dataplane.Endpoint
	config    dataplane.Config
	nat       *dataplane.NATOutgoing
	setUsers  map[string]map[dataplane.PolicyID]struct{}
	// quarantine holds owners (policies, profiles) whose rules iptables-restore
	// rejected; they are programmed as a single DROP until their next update.
	quarantine map[string]error

	// want is every desired chain per family, rendered; owner maps an object key to
	// the chain names it renders (the same in both families).
	want  [2]map[string]*Chain
	owner map[string][]string
	// have is what we believe the kernel holds: chain hashes per family, set names.
	have     [2]map[string][]string
	haveSets map[string]bool

	dirty    dirtySet
	needFull bool
	inSync   bool

	last  BatchStats
	stats Stats
}

type dirtySet struct {
	sets      map[string]bool
	deltas    map[string][]dataplane.SetMember
	policies  map[dataplane.PolicyID]bool
	profiles  map[string]bool
	endpoints map[string]bool
	base      bool
	nat       bool
}

// Stats are running totals.
type Stats struct {
	Batches, Failures, Repairs int
	// Quarantined is how many policies and profiles iptables currently rejects
	// (programmed as a single DROP).
	Quarantined int
	// Mode is the backend in use ("" before the first batch).
	Mode Mode
}

// BatchStats describes the last batch sent.
type BatchStats struct {
	ChainsWritten, ChainsDeleted, RulesWritten int
	SetsReplaced, SetsDestroyed                int
	EntryAdds, EntryDeletes                    int
	JumpsFixed                                 int
	// Commands is how many restore commands ran (ipset, iptables, ip6tables).
	Commands int
}

// New creates a Dataplane. Nothing is sent to the kernel until Apply brings an
// Update with InSync; the first batch then adopts chains and sets left by an earlier
// run, rewriting only those that differ.
func New(log *zap.Logger, opts ...Option) (*Dataplane, error) {
	d := &Dataplane{log: log,
		sets: map[string]*memberSet{}, policies: map[dataplane.PolicyID]*dataplane.Policy{},
		profiles: map[string]*dataplane.Profile{}, endpoints: map[string]*dataplane.Endpoint{},
		setUsers: map[string]map[dataplane.PolicyID]struct{}{}, quarantine: map[string]error{},
		config: dataplane.Config{EndpointToHostAction: dataplane.ActionAllow},
		owner:  map[string][]string{}, haveSets: map[string]bool{},
		needFull: true,
	}
	for i := range d.want {
		d.want[i], d.have[i] = map[string]*Chain{}, map[string][]string{}
	}
	for _, o := range opts {
		o(d)
	}
	if d.run == nil {
		d.run = d.exec
	}
	switch d.wantMode {
	case ModeAuto, ModeLegacy, ModeNFT:
	default:
		return nil, fmt.Errorf("unknown iptables mode %q (want legacy, nft or empty for auto)", d.wantMode)
	}
	d.resetDirty()
	return d, nil
}

func (d *Dataplane) resetDirty() {
	d.dirty = dirtySet{sets: map[string]bool{}, deltas: map[string][]dataplane.SetMember{},
		policies: map[dataplane.PolicyID]bool{}, profiles: map[string]bool{}, endpoints: map[string]bool{}}
}

// LastBatch reports what the last batch sent.
func (d *Dataplane) LastBatch() BatchStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

// Stats reports running totals.
func (d *Dataplane) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.stats
	s.Quarantined = len(d.quarantine)
	if d.bins != nil {
		s.Mode = d.bins.mode
	}
	return s
}

// Apply folds updates into the desired state and programs the difference. Nothing is
// programmed before an Update with InSync has arrived. On error the work stays pending
// for the next Apply or Resync.
func (d *Dataplane) Apply(updates []dataplane.Update) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range updates {
		if err := d.fold(&updates[i]); err != nil {
			return fmt.Errorf("update %d: %w", i, err)
		}
	}
	if !d.inSync {
		// Until the first full snapshot is in, programming would cut off every pod
		// the snapshot has not reached yet; rules left by a previous run stay.
		return nil
	}
	return d.sync(nil)
}

func (d *Dataplane) fold(u *dataplane.Update) error {
	switch {
	case u.SetUpdate != nil:
		old, known := d.sets[u.SetUpdate.ID]
		ms := newMemberSet(u.SetUpdate)
		d.sets[u.SetUpdate.ID] = ms
		d.dirty.sets[u.SetUpdate.ID] = true
		delete(d.dirty.deltas, u.SetUpdate.ID)
		if !known || old.info() != ms.info() {
			d.markSetUsers(u.SetUpdate.ID)
		}
	case u.SetDeltaUpdate != nil:
		return d.foldDelta(u.SetDeltaUpdate)
	case u.SetRemove != "":
		delete(d.sets, u.SetRemove)
		d.dirty.sets[u.SetRemove] = true
		delete(d.dirty.deltas, u.SetRemove)
		d.markSetUsers(u.SetRemove)
	case u.PolicyUpdate != nil:
		id := u.PolicyUpdate.ID
		_, known := d.policies[id]
		d.forgetPolicySets(id)
		delete(d.quarantine, policyOwner(id)) // new content: give it another chance
		d.policies[id] = u.PolicyUpdate
		d.indexPolicySets(u.PolicyUpdate)
		d.dirty.policies[id] = true
		if !known {
			d.markEndpointsUsing(func(ep *dataplane.Endpoint) bool { return endpointUsesPolicy(ep, id) })
		}
	case u.PolicyRemove != nil:
		id := *u.PolicyRemove
		d.forgetPolicySets(id)
		delete(d.quarantine, policyOwner(id))
		delete(d.policies, id)
		d.dirty.policies[id] = true
		d.markEndpointsUsing(func(ep *dataplane.Endpoint) bool { return endpointUsesPolicy(ep, id) })
	case u.ProfileUpdate != nil:
		_, known := d.profiles[u.ProfileUpdate.ID]
		delete(d.quarantine, profileOwner(u.ProfileUpdate.ID))
		d.profiles[u.ProfileUpdate.ID] = u.ProfileUpdate
		d.dirty.profiles[u.ProfileUpdate.ID] = true
		if !known {
			d.markEndpointsUsing(func(ep *dataplane.Endpoint) bool { return slices.Contains(ep.ProfileIDs, u.ProfileUpdate.ID) })
		}
	case u.ProfileRemove != "":
		delete(d.profiles, u.ProfileRemove)
		delete(d.quarantine, profileOwner(u.ProfileRemove))
		d.dirty.profiles[u.ProfileRemove] = true
		d.markEndpointsUsing(func(ep *dataplane.Endpoint) bool { return slices.Contains(ep.ProfileIDs, u.ProfileRemove) })
	case u.EndpointUpdate != nil:
		d.endpoints[u.EndpointUpdate.Key] = u.EndpointUpdate
		d.dirty.endpoints[u.EndpointUpdate.Key] = true
	case u.EndpointRemove != "":
		delete(d.endpoints, u.EndpointRemove)
		d.dirty.endpoints[u.EndpointRemove] = true
	case u.ConfigUpdate != nil:
		d.config = *u.ConfigUpdate
		d.dirty.base = true
	case u.NATUpdate != nil:
		d.nat = u.NATUpdate
		d.dirty.nat = true
	case u.InSync:
		d.inSync = true
	}
	return nil
}

func (d *Dataplane) foldDelta(delta *dataplane.SetDelta) error {
	ms, ok := d.sets[delta.ID]
	if !ok {
		return fmt.Errorf("delta for unknown IP set %q", delta.ID)
	}
	before := ms.info()
	for _, x := range delta.Removed {
		ms.remove(x)
	}
	for _, x := range delta.Added {
		ms.add(x)
	}
	if !d.dirty.sets[delta.ID] { // a whole-set write is pending anyway
		d.dirty.deltas[delta.ID] = append(d.dirty.deltas[delta.ID], delta.Removed...)
		d.dirty.deltas[delta.ID] = append(d.dirty.deltas[delta.ID], delta.Added...)
	}
	// A family gaining its first or losing its last member changes which rules exist
	// (see SetInfo), so the policies using the set are rendered again.
	if ms.info() != before {
		d.markSetUsers(delta.ID)
	}
	return nil
}

func endpointUsesPolicy(ep *dataplane.Endpoint, id dataplane.PolicyID) bool {
	for _, t := range ep.Tiers {
		if slices.Contains(t.IngressPolicies, id) || slices.Contains(t.EgressPolicies, id) {
			return true
		}
	}
	return false
}

func (d *Dataplane) markEndpointsUsing(uses func(*dataplane.Endpoint) bool) {
	for key, ep := range d.endpoints {
		if uses(ep) {
			d.dirty.endpoints[key] = true
		}
	}
}

func (d *Dataplane) markSetUsers(setID string) {
	for id := range d.setUsers[setID] {
		d.dirty.policies[id] = true
	}
}

func policySetIDs(p *dataplane.Policy) []string {
	var ids []string
	for _, rules := range [][]dataplane.Rule{p.Inbound, p.Outbound} {
		for _, r := range rules {
			for _, m := range []dataplane.EndpointMatch{r.Source, r.Destination} {
				ids = append(ids, m.SetIDs...)
				ids = append(ids, m.NotSetIDs...)
				ids = append(ids, m.NamedPortSetIDs...)
				ids = append(ids, m.NotNamedPortSetIDs...)
			}
		}
	}
	return ids
}

func (d *Dataplane) indexPolicySets(p *dataplane.Policy) {
	for _, sid := range policySetIDs(p) {
		if d.setUsers[sid] == nil {
			d.setUsers[sid] = map[dataplane.PolicyID]struct{}{}
		}
		d.setUsers[sid][p.ID] = struct{}{}
	}
}

func (d *Dataplane) forgetPolicySets(id dataplane.PolicyID) {
	if p, ok := d.policies[id]; ok {
		for _, sid := range policySetIDs(p) {
			delete(d.setUsers[sid], id)
			if len(d.setUsers[sid]) == 0 {
				delete(d.setUsers, sid)
			}
		}
	}
}

func (d *Dataplane) setInfo(id string) (SetInfo, bool) {
	ms, ok := d.sets[id]
	if !ok {
		return SetInfo{}, false
	}
	return ms.info(), true
}

func (d *Dataplane) policyKnown(id dataplane.PolicyID) bool { _, ok := d.policies[id]; return ok }
func (d *Dataplane) profileKnown(id string) bool            { _, ok := d.profiles[id]; return ok }

func policyOwner(id dataplane.PolicyID) string { return "policy " + id.String() }
func profileOwner(id string) string            { return "profile " + id }
func endpointOwner(key string) string          { return "endpoint " + key }

const (
	baseOwner     = "base chains"
	natOwner      = "nat chain"
	dispatchOwner = "dispatch chains"
)

// Close exists for parity with the nftables backend: there is nothing to release (every
// command is a short-lived process). Rules and sets stay in the kernel.
func (d *Dataplane) Close() error { return nil }
