package agent

import (
	"fmt"
	"os/exec"

	nft "github.com/google/nftables"

	"go.uber.org/zap"

	"github.com/palisadenet/palisade/dataplane/iptables"
	"github.com/palisadenet/palisade/dataplane/nftables"
	"github.com/palisadenet/palisade/policy/selector"
)

// newFirewall opens the configured firewall backend. "auto" prefers nftables and
// falls back to iptables when the kernel cannot do nftables. iptablesMode is
// FELIX_IPTABLESBACKEND (Auto, Legacy, NFT). The returned cleanup removes what the
// other backend left from a previous configuration; the agent runs it once the new
// backend has programmed the full state, so the node is never without policy.
func newFirewall(backend, iptablesMode string, log *zap.Logger) (Firewall, func() error, error) {
	openIptables := func() (Firewall, func() error, error) {
		mode := map[string]iptables.Mode{"Legacy": iptables.ModeLegacy, "NFT": iptables.ModeNFT}[iptablesMode]
		fw, err := iptables.New(log, iptables.WithMode(mode))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: iptables: %v", ErrNoBackend, err)
		}
		return fw, removeNftablesTable, nil
	}
	removeIptables := func() error {
		if _, err := exec.LookPath("iptables-save"); err != nil {
			return nil // no iptables on this host: nothing of ours can be there
		}
		return iptables.Uninstall(log)
	}
	switch backend {
	case "nftables", "auto":
		fw, err := nftables.New(log)
		if err == nil {
			return fw, removeIptables, nil
		}
		if backend == "auto" {
			log.Warn("nftables unavailable; using iptables", zap.Error(err))
			return openIptables()
		}
		return nil, nil, fmt.Errorf("%w: nftables: %v", ErrNoBackend, err)
	case "iptables":
		return openIptables()
	}
	return nil, nil, fmt.Errorf("%w: unknown backend %q", ErrNoBackend, backend)
}

// selectorCache holds parsed BGPPeer and pool selectors between recomputations.
var selectorCache = selector.NewCache(1024)

// matchSelector evaluates a Calico selector for BGP peer computation.
func matchSelector(expr string, labels map[string]string) (bool, error) {
	sel, err := selectorCache.Get(expr)
	if err != nil {
		return false, err
	}
	return sel.Evaluate(labels), nil
}

// removeNftablesTable deletes the nftables backend's table (and nothing else) when
// the node switches to iptables, so two backends never judge the same packets. A
// kernel without nftables, or no table, is nothing to do.
func removeNftablesTable() error {
	conn, err := nft.New()
	if err != nil {
		return nil
	}
	tables, err := conn.ListTablesOfFamily(nft.TableFamilyINet)
	if err != nil {
		return nil
	}
	for _, t := range tables {
		if t.Name == nftables.TableName {
			conn.DelTable(t)
			if err := conn.Flush(); err != nil {
				return fmt.Errorf("deleting table inet %s: %w", nftables.TableName, err)
			}
		}
	}
	return nil
}
