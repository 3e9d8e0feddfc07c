package nftables

import (
	"fmt"
	"strings"
	"sync"

	nft "github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/desired"
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

	// state is the desired state folded from Updates, with the work pending for the
	// next batch.
	state *desired.State

	// What is in the kernel (as last programmed).
	applied appliedState

	needFull bool // the next batch rewrites the whole table

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
		state: desired.New(desired.Options{PolicyOwner: policyOwner, ProfileOwner: profileOwner,
			DeltaCandidates: true}),
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
	inSync, err := d.state.FoldAll(updates)
	if err != nil || !inSync {
		// A table left by a previous run stays in force until the first full
		// snapshot is in.
		return err
	}
	err = d.sync()
	d.stats.Quarantined = len(d.state.Quarantine)
	return err
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
	d.state.ResetDirty()
	return nil
}

func (d *Dataplane) markAllDirty() {
	d.resetApplied()
	d.state.MarkAllDirty()
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
