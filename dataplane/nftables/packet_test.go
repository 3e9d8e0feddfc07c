package nftables

import (
	"testing"

	"github.com/palisadenet/palisade/dataplane/backendtest"
	"github.com/palisadenet/palisade/internal/netnstest"
)

// TestPacketScenarios runs the packet scenarios every backend must pass (profiles,
// tiers and Pass, named ports and nets, ipVersion and ICMP, egress and ingress,
// neighbor discovery, endpoint to host, set changes, failing closed, removals) with
// table inet palisade programming the node.
func TestPacketScenarios(t *testing.T) {
	backendtest.Run(t, []string{"nft"}, func(t *testing.T, ns *netnstest.NS) backendtest.Backend {
		return newDataplane(t, ns)
	})
}
