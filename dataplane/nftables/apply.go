package nftables

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	nft "github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/palisadenet/palisade/dataplane"
)

// Option configures a Dataplane.
type Option func(*Dataplane)

// WithNetNSFd programs the network namespace behind fd instead of the current one.
func WithNetNSFd(fd int) Option { return func(d *Dataplane) { d.netnsFd = fd } }

// WithResyncBudget bounds how many sets (besides the verdict maps) one Resync compares
// element by element, and how many non-base chains rule by rule (ten times n), each
// one netlink round trip. DefaultResyncBudget otherwise; zero or less compares
// everything every time.
func WithResyncBudget(n int) Option {
	return func(d *Dataplane) { d.resyncBudget, d.chainBudget = n, 10*n }
}

// DefaultResyncBudget keeps one Resync of a full-scale table (20,000 chains, 2,000
// sets of 100 members) to 200 set reads and 2,000 chain reads, a few hundred
// milliseconds; the sweep completes in ten calls.
const DefaultResyncBudget = 200

// WithPassMark sets the packet-mark bit used for Pass (DefaultPassMark otherwise).
func WithPassMark(bit uint32) Option { return func(d *Dataplane) { d.opt.PassMark = bit } }

// maxElementsPerMessage keeps one element message well below netlink's 64 KiB
// attribute limit (an IPv6 interval element is about 60 bytes).
const maxElementsPerMessage = 512

// Dataplane keeps table `inet palisade` in the kernel equal to the desired state fed
// to Apply. It remembers what it last programmed and sends only differences, each
// batch as one atomic netlink transaction. Safe for concurrent use.
type Dataplane struct {
	mu      sync.Mutex
	log     *zap.Logger
	netnsFd int
	opt     Options
	conn    *nft.Conn
	table   *nft.Table

	// Desired state.
	sets      map[string]*memberSet
	policies  map[dataplane.PolicyID]*dataplane.Policy
	profiles  map[string]*dataplane.Profile
	endpoints map[string]*dataplane.Endpoint
	config    dataplane.Config
	nat       *dataplane.NATOutgoing
	setUsers  map[string]map[dataplane.PolicyID]struct{} // set ID -> policies using it
	// quarantine holds policies and profiles (by owner key) whose chains the kernel
	// rejected, with the error; they are programmed as a single drop.
	quarantine map[string]error

	// What is in the kernel (as last programmed).
	applied appliedState

	// Work for the next batch.
	dirty    dirtySet
	needFull bool
	inSync   bool // an InSync update has been seen: the desired state is complete

	last  OpCounts
	stats Stats

	// Resync's rule reader and round-robin positions over chains and sets.
	rules                  ruleDumper
	resyncBudget           int // sets per Resync
	chainBudget            int // chains per Resync
	chainCursor, setCursor resyncCursor
}

type appliedState struct {
	chains map[string]string          // chain name -> rule text (fingerprint)
	sets   map[string]*appliedSet     // set or map name
	eps    map[string]*EndpointRender // endpoint key -> its map entries and chain names
	owner  map[string]map[string]bool // object key -> chain names it owns
}

type appliedSet struct {
	set   *Set // type and comment; Elements unused
	elems map[Element]struct{}
}

type dirtySet struct {
	sets      map[string]bool
	deltas    map[string][]dataplane.SetMember // candidates per set ID
	policies  map[dataplane.PolicyID]bool
	profiles  map[string]bool
	endpoints map[string]bool
	base      bool
}

// Stats are running totals.
type Stats struct {
	Batches, Failures, Repairs int
	// Quarantined is the number of policies and profiles the kernel currently rejects
	// (programmed as a single drop).
	Quarantined int
}

// New creates a Dataplane. Nothing is sent to the kernel until Apply or Resync; the
// first batch replaces any table `inet palisade` left over from an earlier run.
func New(log *zap.Logger, opts ...Option) (*Dataplane, error) {
	d := &Dataplane{log: log, netnsFd: -1,
		sets: map[string]*memberSet{}, policies: map[dataplane.PolicyID]*dataplane.Policy{},
		profiles: map[string]*dataplane.Profile{}, endpoints: map[string]*dataplane.Endpoint{},
		setUsers: map[string]map[dataplane.PolicyID]struct{}{}, quarantine: map[string]error{},
		config:   dataplane.Config{EndpointToHostAction: dataplane.ActionAllow},
		needFull: true, resyncBudget: DefaultResyncBudget, chainBudget: 10 * DefaultResyncBudget,
		table: &nft.Table{Name: TableName, Family: nft.TableFamilyINet},
	}
	for _, o := range opts {
		o(d)
	}
	d.rules.netnsFd = d.netnsFd
	// A lasting socket: one dial (and netns switch) per Dataplane, not per batch.
	connOpts := []nft.ConnOption{nft.AsLasting(), nft.WithSockOptions(largeBuffers)}
	if d.netnsFd >= 0 {
		connOpts = append(connOpts, nft.WithNetNSFd(d.netnsFd))
	}
	conn, err := nft.New(connOpts...)
	if err != nil {
		return nil, fmt.Errorf("opening nftables netlink connection: %w", err)
	}
	d.conn = conn
	d.resetApplied()
	d.resetDirty()
	return d, nil
}

// Socket buffer sizes for one transaction. A cold start at full scale is one batch of
// tens of megabytes (sendmsg fails with EMSGSIZE above the send buffer) and the kernel
// queues an ack per message before we read any (ENOBUFS above the receive buffer).
// The FORCE variants need CAP_NET_ADMIN, which programming nftables needs anyway.
const (
	sendBufferBytes    = 512 << 20
	receiveBufferBytes = 128 << 20
)

func largeBuffers(c *netlink.Conn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	if err := raw.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sendBufferBytes) != nil {
			// Without CAP_NET_ADMIN nothing can be programmed anyway; keep the socket
			// usable for reads and tests with the largest unprivileged buffer.
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, sendBufferBytes)
		}
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, receiveBufferBytes) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, receiveBufferBytes)
		}
	}); err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	return nil
}

func (d *Dataplane) resetApplied() {
	d.applied = appliedState{chains: map[string]string{}, sets: map[string]*appliedSet{},
		eps: map[string]*EndpointRender{}, owner: map[string]map[string]bool{}}
}

func (d *Dataplane) resetDirty() {
	d.dirty = dirtySet{sets: map[string]bool{}, deltas: map[string][]dataplane.SetMember{},
		policies: map[dataplane.PolicyID]bool{}, profiles: map[string]bool{}, endpoints: map[string]bool{}}
}

// LastBatch reports the operations of the last transaction sent.
func (d *Dataplane) LastBatch() OpCounts {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

// Stats reports running totals.
func (d *Dataplane) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Apply folds updates into the desired state and programs the difference in one
// transaction. Nothing is programmed before an Update with InSync set has arrived. If the kernel rejects the batch, the policies and profiles in it are
// isolated: those the kernel rejects on their own are programmed as a single drop (their
// endpoints fail closed), everything else is applied, and a *QuarantineError names them.
// Any other error leaves the previous table live and the work pending for the next
// Apply or Resync.
func (d *Dataplane) Apply(updates []dataplane.Update) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range updates {
		if err := d.fold(&updates[i]); err != nil {
			return fmt.Errorf("update %d: %w", i, err)
		}
	}
	if !d.inSync {
		// Until the first full snapshot is in, programming would cut off every pod the
		// snapshot has not reached yet; a table left by a previous run stays in force.
		return nil
	}
	err := d.sync()
	d.stats.Quarantined = len(d.quarantine)
	return err
}

func (d *Dataplane) fold(u *dataplane.Update) error {
	switch {
	case u.SetUpdate != nil:
		old, known := d.sets[u.SetUpdate.ID]
		ms := newMemberSet(u.SetUpdate)
		d.sets[u.SetUpdate.ID] = ms
		d.dirty.sets[u.SetUpdate.ID] = true
		if !known || old.info() != ms.info() {
			d.markSetUsers(u.SetUpdate.ID)
		}
	case u.SetDeltaUpdate != nil:
		return d.foldDelta(u.SetDeltaUpdate)
	case u.SetRemove != "":
		delete(d.sets, u.SetRemove)
		d.dirty.sets[u.SetRemove] = true
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
		d.dirty.base = true
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
	defer func() {
		// A family gaining its first or losing its last member changes which rules
		// exist (see SetInfo), so the policies using the set are re-rendered.
		if ms.info() != before {
			d.markSetUsers(delta.ID)
		}
	}()
	var cands []dataplane.SetMember
	for _, x := range delta.Removed {
		cands = append(cands, ms.candidates(x)...)
		ms.remove(x)
	}
	for _, x := range delta.Added {
		ms.add(x)
		cands = append(cands, ms.candidates(x)...)
	}
	d.dirty.deltas[delta.ID] = append(d.dirty.deltas[delta.ID], cands...)
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

func (d *Dataplane) setKind(id string) (SetInfo, bool) {
	ms, ok := d.sets[id]
	if !ok {
		return SetInfo{}, false
	}
	return ms.info(), true
}

// sync renders what is dirty, diffs it against the applied state and sends one batch.
func (d *Dataplane) sync() error {
	err := d.trySync()
	if err == nil {
		return nil
	}
	return d.isolate(err)
}

// trySync sends one batch for the current dirty state.
func (d *Dataplane) trySync() error {
	full := d.needFull
	if full {
		d.markAllDirty()
	}
	b, err := d.plan(full)
	if err != nil {
		return err
	}
	if full {
		exists, err := d.tableExists()
		if err != nil {
			return err
		}
		b.replaceTable = exists
	}
	if err := b.send(d.conn, d.table); err != nil {
		// The kernel rolled the whole batch back, so the applied state is still true
		// and the dirty marks still describe the work (a full batch stays full).
		d.stats.Failures++
		d.log.Warn("nftables transaction failed", zap.Error(err), zap.Any("ops", b.counts))
		return fmt.Errorf("programming table inet %s: %w", TableName, err)
	}
	d.stats.Batches++
	d.last = b.counts
	d.commit(b)
	d.needFull = false
	d.resetDirty()
	return nil
}

func (d *Dataplane) markAllDirty() {
	d.resetApplied()
	d.resetDirty()
	for id := range d.sets {
		d.dirty.sets[id] = true
	}
	for id := range d.policies {
		d.dirty.policies[id] = true
	}
	for id := range d.profiles {
		d.dirty.profiles[id] = true
	}
	for key := range d.endpoints {
		d.dirty.endpoints[key] = true
	}
	d.dirty.base = true
}

func (d *Dataplane) tableExists() (bool, error) {
	tables, err := d.conn.ListTablesOfFamily(nft.TableFamilyINet)
	if err != nil {
		return false, fmt.Errorf("listing inet tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == TableName {
			return true, nil
		}
	}
	return false, nil
}

// chainText is a chain's fingerprint: equal text means equal rules. It is never
// empty (an empty string marks a deleted chain in a batch).
func chainText(c *Chain) string {
	var b strings.Builder
	b.WriteString("chain " + c.Name + "\n")
	for _, r := range c.Rules {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Close releases the netlink socket. The table stays in the kernel.
func (d *Dataplane) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.rules.close()
	if cerr := d.conn.CloseLasting(); cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("closing nftables netlink connection: %w", err)
	}
	return nil
}
