package nftables

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"go.uber.org/zap"

	"github.com/palisadenet/palisade/dataplane"
)

// testBreakPolicy lets tests make the kernel reject a policy's chain (it adds a jump to
// a chain that does not exist). Nil outside tests.
var testBreakPolicy func(dataplane.PolicyID) bool

func policyOwner(id dataplane.PolicyID) string { return "policy:" + id.String() }
func profileOwner(id string) string            { return "profile:" + id }

// QuarantineError reports policies or profiles the kernel rejected. The rest of the
// batch was programmed; the named objects are programmed as a single drop, so only
// the endpoints using them fail closed.
type QuarantineError struct {
	Rejected map[string]error // "policy:<tier>/<name>" or "profile:<id>" -> kernel error
}

func (e *QuarantineError) Error() string {
	keys := slices.Sorted(maps.Keys(e.Rejected))
	return fmt.Sprintf("kernel rejected %v (programmed as drop): %v", keys, e.Rejected[keys[0]])
}

// suspect is a policy or profile that was part of a rejected batch.
type suspect struct {
	key       string
	markDirty func()
}

// isolate runs after a rejected batch. A drifted table is repaired first (the
// rejection may come from it). Otherwise the batch's policies and profiles are all
// programmed as drops, then released by bisection: a group the kernel accepts stays
// released, a rejected single object stays a drop. That costs O(k log n) small
// batches for k bad objects among n suspects.
func (d *Dataplane) isolate(batchErr error) error {
	if !d.needFull {
		if drift, err := d.drift(); err == nil && drift != "" {
			d.log.Warn("nftables table drifted; reprogramming it", zap.String("drift", drift))
			d.stats.Repairs++
			d.needFull = true
			if batchErr = d.trySync(); batchErr == nil {
				return nil
			}
		}
	}
	suspects := d.suspects()
	if len(suspects) == 0 {
		return batchErr
	}
	for _, s := range suspects {
		d.state.Quarantine[s.key] = batchErr
	}
	if err := d.trySync(); err != nil {
		for _, s := range suspects {
			delete(d.state.Quarantine, s.key)
		}
		return errors.Join(batchErr, fmt.Errorf("programming with suspects as drops: %w", err))
	}
	rejected := map[string]error{}
	if err := d.release(suspects, rejected); err != nil {
		return err
	}
	if len(rejected) == 0 {
		return nil
	}
	return &QuarantineError{Rejected: rejected}
}

func (d *Dataplane) suspects() []suspect {
	var out []suspect
	for id := range d.state.Dirty.Policies {
		if _, ok := d.state.Policies[id]; ok && d.state.Quarantine[policyOwner(id)] == nil {
			out = append(out, suspect{policyOwner(id), func() { d.state.Dirty.Policies[id] = true }})
		}
	}
	for id := range d.state.Dirty.Profiles {
		if _, ok := d.state.Profiles[id]; ok && d.state.Quarantine[profileOwner(id)] == nil {
			out = append(out, suspect{profileOwner(id), func() { d.state.Dirty.Profiles[id] = true }})
		}
	}
	slices.SortFunc(out, func(a, b suspect) int { return cmpString(a.key, b.key) })
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// release un-quarantines group; if the kernel rejects it, it splits the group.
func (d *Dataplane) release(group []suspect, rejected map[string]error) error {
	prev := make([]error, len(group))
	for i, s := range group {
		prev[i] = d.state.Quarantine[s.key]
		delete(d.state.Quarantine, s.key)
		s.markDirty()
	}
	err := d.trySync()
	if err == nil {
		return nil
	}
	for i, s := range group {
		d.state.Quarantine[s.key] = prev[i]
		s.markDirty()
	}
	if len(group) == 1 {
		d.state.Quarantine[group[0].key] = err
		rejected[group[0].key] = err
		d.log.Error("kernel rejects rules; endpoints using them fail closed", zap.String("object", group[0].key), zap.Error(err))
	}
	// Put the group back to drops before looking into its halves.
	if err := d.trySync(); err != nil {
		return fmt.Errorf("re-quarantining %d objects: %w", len(group), err)
	}
	if len(group) == 1 {
		return nil
	}
	half := len(group) / 2
	if err := d.release(group[:half], rejected); err != nil {
		return err
	}
	return d.release(group[half:], rejected)
}

// failClosedChains replaces an object's two chains with a single drop each.
func failClosedChains(in, out, what string, err error) []*Chain {
	rule := Rule{Verdict: Verdict{Kind: VerdictDrop}, Comment: truncate("fail closed: kernel rejected " + what + ": " + err.Error())}
	return []*Chain{{Name: in, Comment: what + " inbound", Rules: []Rule{rule}},
		{Name: out, Comment: what + " outbound", Rules: []Rule{rule}}}
}
