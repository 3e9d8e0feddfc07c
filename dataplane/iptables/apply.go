package iptables

import (
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/desired"
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

	// state is the desired state folded from Updates, with the work pending.
	state *desired.State

	// want is every desired chain per family, rendered; owner maps an object key to
	// the chain names it renders (the same in both families).
	want  [2]map[string]*Chain
	owner map[string][]string
	// have is what we believe the kernel holds: chain hashes per family, set names.
	have     [2]map[string][]string
	haveSets map[string]bool

	needFull bool

	last  BatchStats
	stats Stats
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
		state: desired.New(desired.Options{PolicyOwner: policyOwner, ProfileOwner: profileOwner}),
		owner: map[string][]string{}, haveSets: map[string]bool{},
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
	return d, nil
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
	s.Quarantined = len(d.state.Quarantine)
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
	inSync, err := d.state.FoldAll(updates)
	if err != nil || !inSync {
		// Rules left by a previous run stay until the first full snapshot is in.
		return err
	}
	return d.sync(nil)
}

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
