package nftables

import (
	"context"
	"fmt"
	"time"

	nft "github.com/google/nftables"
	"go.uber.org/zap"
)

// DefaultResyncInterval is how often RunResync compares the kernel with the desired state.
const DefaultResyncInterval = 10 * time.Second

// Resync reads table inet palisade back from the kernel and, if it differs from what
// was last programmed (table, chain or set missing or extra, a base chain's rules or a
// dispatch map's entries changed), reprograms the whole table in one transaction that
// deletes and recreates it. The transaction is atomic, so there is no moment with the
// table absent, and conntrack keeps established flows. Set contents of policy sets
// are not compared (too costly at 100,000 members); a lost element shows as denied
// traffic until the next change of that set.
func (d *Dataplane) Resync() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.inSync {
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
	for _, name := range []string{ChainForwardEgress, ChainForwardIngress, ChainInput, ChainOutput} {
		rules, err := d.conn.GetRules(d.table, &nft.Chain{Name: name, Table: d.table})
		if err != nil {
			return "", err
		}
		if want := countLines(d.applied.chains[name]) - 1; len(rules) != want {
			return fmt.Sprintf("chain %s has %d rules, want %d", name, len(rules), want), nil
		}
	}
	return d.setDrift()
}

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
	for _, m := range []string{MapFromWorkload, MapToWorkload} {
		els, err := d.conn.GetSetElements(&nft.Set{Table: d.table, Name: m, KeyType: nft.TypeIFName, DataType: nft.TypeVerdict, IsMap: true})
		if err != nil {
			return "", err
		}
		if want := len(d.applied.sets[m].elems); len(els) != want {
			return fmt.Sprintf("map %s has %d entries, want %d", m, len(els), want), nil
		}
	}
	return "", nil
}

func countLines(s string) int {
	n := 0
	for _, c := range s {
		if c == '\n' {
			n++
		}
	}
	return n
}
