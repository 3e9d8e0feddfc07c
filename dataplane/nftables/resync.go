package nftables

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	nft "github.com/google/nftables"
	"go.uber.org/zap"
)

// DefaultResyncInterval is how often RunResync compares the kernel with the desired state.
const DefaultResyncInterval = 10 * time.Second

// Resync reads table inet palisade back from the kernel and, if it differs from what
// was last programmed (table, chain or set missing or extra, a chain's rules or a
// set's elements changed), reprograms the whole table in one transaction that
// deletes and recreates it. The transaction is atomic, so there is no moment with the
// table absent, and conntrack keeps established flows.
//
// The base chains' rules and the verdict maps are compared on every call; other chains'
// rules (by fingerprint) and other sets' elements round robin, at most
// WithResyncBudget sets and ten times as many chains per call (each is one netlink
// round trip), so a full-scale table is swept over a few intervals at bounded cost
// per call.
func (d *Dataplane) Resync() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.state.InSync {
		return nil
	}
	if !d.needFull {
		drift, err := d.drift()
		if err != nil {
			return fmt.Errorf("reading table inet %s: %w", TableName, err)
		}
		if drift == "" {
			return nil
		}
		d.log.Warn("nftables table drifted; reprogramming it", zap.String("drift", drift))
		d.stats.Repairs++
		d.needFull = true
	}
	return d.sync()
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
				d.log.Error("nftables resync failed", zap.Error(err))
			}
		}
	}
}

// drift describes the first difference found between kernel and applied state, or "".
func (d *Dataplane) drift() (string, error) {
	exists, err := d.tableExists()
	if err != nil {
		return "", err
	}
	if !exists {
		return "table missing", nil
	}
	if msg, err := d.chainDrift(); msg != "" || err != nil {
		return msg, err
	}
	return d.setDrift()
}

// chainDrift compares the chains of the table, then the rules of the base chains and
// of up to chainBudget other chains (round robin): their fingerprints, in order, must
// be those of the rules last written.
func (d *Dataplane) chainDrift() (string, error) {
	chains, err := d.conn.ListChainsOfTableFamily(nft.TableFamilyINet)
	if err != nil {
		return "", err
	}
	seen := map[string]bool{}
	for _, c := range chains {
		if c.Table.Name != TableName {
			continue
		}
		seen[c.Name] = true
		if _, ok := d.applied.chains[c.Name]; !ok {
			return "unexpected chain " + c.Name, nil
		}
	}
	for name := range d.applied.chains {
		if !seen[name] {
			return "chain missing: " + name, nil
		}
	}
	names := []string{ChainForwardEgress, ChainForwardIngress, ChainInput, ChainOutput, ChainNATPostrouting}
	names = append(names, d.chainCursor.next(slices.Collect(maps.Keys(d.applied.chains)), d.chainBudget)...)
	for _, name := range names {
		text, ok := d.applied.chains[name]
		if !ok {
			continue
		}
		fps, err := d.rules.fingerprints(name)
		if err != nil {
			return "", fmt.Errorf("reading rules of chain %s: %w", name, err)
		}
		if msg := compareRules(name, text, fps); msg != "" {
			return msg, nil
		}
	}
	return "", nil
}

// compareRules checks a chain's rule fingerprints, read from the kernel, against the
// chain's text (one rule per line after the header).
func compareRules(chain, text string, got []uint32) string {
	want := strings.Split(strings.TrimSuffix(text, "\n"), "\n")[1:]
	if len(got) != len(want) {
		return fmt.Sprintf("chain %s has %d rules, want %d", chain, len(got), len(want))
	}
	for i, fp := range got {
		if fp != ruleFingerprint(want[i]) {
			return fmt.Sprintf("chain %s rule %d differs from %q", chain, i, want[i])
		}
	}
	return ""
}

// setDrift compares the named sets and maps of the table, then the elements of both
// dispatch maps and of up to resyncBudget other sets (round robin).
func (d *Dataplane) setDrift() (string, error) {
	sets, err := d.conn.GetSets(d.table)
	if err != nil {
		return "", err
	}
	seen := map[string]bool{}
	for _, s := range sets {
		if s.Anonymous {
			continue
		}
		seen[s.Name] = true
		if _, ok := d.applied.sets[s.Name]; !ok {
			return "unexpected set " + s.Name, nil
		}
	}
	for name := range d.applied.sets {
		if !seen[name] {
			return "set missing: " + name, nil
		}
	}
	names := []string{MapFromWorkload, MapToWorkload, MapHostIngress, MapHostEgress}
	names = append(names, d.setCursor.next(slices.Collect(maps.Keys(d.applied.sets)), d.resyncBudget)...)
	for _, name := range names {
		s, ok := d.applied.sets[name]
		if !ok {
			continue
		}
		els, err := d.conn.GetSetElements(nftSet(s.set, d.table))
		if err != nil {
			return "", fmt.Errorf("reading elements of set %s: %w", name, err)
		}
		got, err := decodeElements(s.set.Type, els)
		if err != nil {
			return fmt.Sprintf("set %s: %v", name, err), nil
		}
		if msg := diffElements(got, s.elems, s.set.Type); msg != "" {
			return "set " + name + ": " + msg, nil
		}
	}
	return "", nil
}

func diffElements(got, want map[Element]struct{}, t SetType) string {
	n := 0
	for e := range want {
		if _, ok := got[comparable(t, e)]; !ok {
			return "element missing: " + e.String()
		}
		n++
	}
	if len(got) != n {
		for e := range got {
			return fmt.Sprintf("%d elements, want %d (e.g. %s)", len(got), n, e)
		}
	}
	return ""
}

// resyncCursor walks the names of a map in sorted order across Resync calls, a
// bounded number at a time, so a large table is checked completely over several
// intervals without making any single Resync slow.
type resyncCursor struct{ after string }

func (c *resyncCursor) next(names []string, budget int) []string {
	slices.Sort(names)
	if budget <= 0 || len(names) <= budget {
		return names
	}
	i, _ := slices.BinarySearch(names, c.after)
	if i < len(names) && names[i] == c.after {
		i++
	}
	var out []string
	for len(out) < budget {
		if i >= len(names) {
			i = 0
		}
		out = append(out, names[i])
		i++
	}
	c.after = out[len(out)-1]
	return out
}
