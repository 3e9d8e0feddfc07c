package iptables

import (
	"context"
	"fmt"
	"github.com/palisadenet/palisade/dataplane/desired"
	"time"

	"go.uber.org/zap"
)

// DefaultResyncInterval is how often RunResync compares the kernel with the desired state.
const DefaultResyncInterval = 10 * time.Second

// Resync reads our chains, jumps and sets (with their entries, `ipset save`) back
// from the kernel and repairs any drift: a chain whose rules differ from ours (by
// their hash comments) is rewritten, a missing chain or set is recreated, a set whose
// entries differ is replaced whole (filled aside and swapped in, never empty), a
// stray cali- chain or set is removed, and our jumps are put back at the top of
// INPUT, FORWARD and OUTPUT. Each family's repair is one atomic iptables-restore, so
// no moment exists where traffic is open because of a half-written chain.
func (d *Dataplane) Resync() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.state.InSync {
		return nil
	}
	if d.needFull || d.bins == nil {
		return d.sync(nil)
	}
	kv, err := d.readKernel(true)
	if err != nil {
		return err
	}
	stale, setDrift := d.staleSets(kv)
	drift := d.drift(kv)
	if drift == "" {
		drift = setDrift
	}
	if drift != "" {
		d.log.Warn("iptables drifted from the desired state; repairing", zap.String("drift", drift), zap.Int("stale-sets", len(stale)))
		d.stats.Repairs++
		d.haveSets = kv.sets
		for _, id := range stale {
			d.state.Dirty.Sets[id] = true
		}
		return d.sync(kv)
	}
	if len(d.state.Dirty.Sets)+len(d.state.Dirty.Deltas)+len(d.state.Dirty.Policies)+len(d.state.Dirty.Profiles)+len(d.state.Dirty.Endpoints) > 0 || d.state.Dirty.Base {
		return d.sync(nil) // work left by a failed Apply
	}
	return nil
}

// drift describes the first difference between the kernel and what we wrote, or "".
func (d *Dataplane) drift(kv *kernelView) string {
	for _, fam := range Families {
		i := famIndex(fam)
		k := kv.tables[i]
		for _, name := range desired.SortedKeys(d.want[i]) {
			h, ok := k.chains[name]
			switch {
			case !ok:
				return fmt.Sprintf("IPv%d chain %s missing", fam, name)
			case !d.want[i][name].sameHashes(h):
				return fmt.Sprintf("IPv%d chain %s changed", fam, name)
			}
		}
		for name := range k.chains {
			if d.want[i][name] == nil {
				return fmt.Sprintf("IPv%d chain %s is not ours to keep", fam, name)
			}
		}
		if fixes := k.jumpFixes(d.wantJumps(i)); len(fixes) > 0 {
			return fmt.Sprintf("IPv%d jumps from the built-in chains moved or missing", fam)
		}
	}
	return "" // sets: staleSets
}

// RunResync calls Resync every interval until ctx ends, logging failures.
func (d *Dataplane) RunResync(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultResyncInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.Resync(); err != nil {
				d.log.Error("iptables resync failed", zap.Error(err))
			}
		}
	}
}
