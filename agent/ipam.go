package agent

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"go.uber.org/zap"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/routing/ipam"
	"github.com/palisadenet/palisade/routing/tunnel"
)

// openIPAM opens the IPAM store of the configured datastore and creates the default
// pools from CALICO_IPV4POOL_* / CALICO_IPV6POOL_* when none exist, as calico-node
// does on a cluster's first start.
func (a *Agent) openIPAM(ctx context.Context) error {
	var store ipam.Store
	var err error
	switch {
	case a.store.restConfig != nil:
		store, err = ipam.NewKubernetesStore(a.store.restConfig, a.log.Named("ipam"))
	default:
		store, err = ipam.NewFileStore(a.cfg.DatastoreDir, a.log.Named("ipam"))
	}
	if err != nil {
		return fmt.Errorf("opening IPAM: %w", err)
	}
	a.ipam = ipam.New(store, a.log.Named("ipam"))
	if err := a.ipam.EnsureDefaultPools(ctx, a.cfg.poolEnv); err != nil {
		return fmt.Errorf("creating the default IP pools: %w", err)
	}
	return nil
}

// vxlanPools names the enabled IPv4 pools that use VXLAN (Always or CrossSubnet).
func (v *routingView) vxlanPools() []string {
	var out []string
	for _, name := range sortedKeys(v.pools) {
		p := v.pools[name]
		mode := string(p.Spec.VXLANMode)
		disabled := p.Spec.IsDisabled()
		if !disabled && (mode == "Always" || mode == "CrossSubnet") && !strings.Contains(p.Spec.CIDR, ":") {
			out = append(out, name)
		}
	}
	return out
}

// vtepHandle is the IPAM handle of this node's VXLAN tunnel address (Calico's name).
func vtepHandle(node string) string { return "vxlan-tunnel-addr-" + node }

// ensureVXLAN gives this node a VXLAN tunnel endpoint once some pool needs one: an
// address from a VXLAN pool (kept across restarts through the Node annotation), the
// vxlan.calico device, and the annotations other nodes route by.
func (a *Agent) ensureVXLAN(ctx context.Context) error {
	pools := a.view.vxlanPools()
	if len(pools) == 0 || a.ipam == nil || a.netlink == nil {
		return nil
	}
	addr := a.vtep
	if !addr.IsValid() {
		if own := a.view.nodes[a.cfg.NodeName]; own != nil {
			addr, _ = netip.ParseAddr(own.Annotations[AnnotationVXLANTunnelAddr])
		}
	}
	if !addr.IsValid() {
		got, err := a.ipam.Assign(ctx, ipam.AssignArgs{Handle: vtepHandle(a.cfg.NodeName), Node: a.cfg.NodeName, Num4: 1,
			Pools4: pools, Attrs: map[string]string{ipam.AttrNode: a.cfg.NodeName, "type": "vxlanTunnelAddress"},
			Use: v3.AllowedUseTunnel})
		if err != nil {
			return fmt.Errorf("allocating the VXLAN tunnel address: %w", err)
		}
		addr = got[0].Addr.Addr()
	}
	mac, err := tunnel.EnsureVXLAN(a.netlink, tunnel.VXLAN{Parent: a.local.Interface, Source: a.local.Address.Addr(), VTEPIP: addr})
	if err != nil {
		return fmt.Errorf("setting up %s: %w", tunnel.VXLANDevice, err)
	}
	if addr != a.vtep {
		a.log.Info("VXLAN tunnel endpoint", zap.Stringer("address", addr), zap.Stringer("mac", mac))
		if err := a.store.publishNode(ctx, map[string]string{AnnotationVXLANTunnelAddr: addr.String(), AnnotationVXLANTunnelMAC: mac.String()}); err != nil {
			return fmt.Errorf("publishing the VXLAN tunnel endpoint: %w", err)
		}
		a.vtep = addr
	}
	return nil
}
