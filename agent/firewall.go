package agent

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/palisadenet/palisade/dataplane/nftables"
	"github.com/palisadenet/palisade/policy/selector"
)

// newFirewall opens the configured firewall backend. "auto" prefers nftables and
// falls back when the kernel cannot do it.
func newFirewall(backend string, log *zap.Logger) (Firewall, error) {
	switch backend {
	case "nftables", "auto":
		fw, err := nftables.New(log)
		if err != nil {
			return nil, fmt.Errorf("%w: nftables: %v", ErrNoBackend, err)
		}
		return fw, nil
	case "iptables":
		return nil, fmt.Errorf("%w: the iptables backend is not built into this agent yet; use nftables", ErrNoBackend)
	}
	return nil, fmt.Errorf("%w: unknown backend %q", ErrNoBackend, backend)
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
