package bgp

import (
	"fmt"
	"net/netip"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"go.uber.org/zap"
)

// This file converts between our values and GoBGP's API messages. Nothing here
// holds state.

var (
	familyV4 = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	familyV6 = &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
)

func familyOf(a netip.Addr) *api.Family {
	if a.Is4() {
		return familyV4
	}
	return familyV6
}

// apiPeer builds GoBGP's peer configuration for p.
func apiPeer(p Peer, o *Options) *api.Peer {
	gr := o.GracefulRestart
	ap := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: p.Address.String(),
			PeerAsn:         p.ASNumber,
			AuthPassword:    p.Password,
			Description:     fmt.Sprintf("%s %s", p.Type, p.Source),
		},
		// Connect from the listen address, so the peer sees the address it expects.
		Transport: &api.Transport{RemotePort: uint32(p.Port), LocalAddress: o.ListenAddress, PassiveMode: p.Passive},
		Timers: &api.Timers{Config: &api.TimersConfig{
			HoldTime:          uint64(o.HoldTime / time.Second),
			KeepaliveInterval: uint64(o.KeepaliveInterval / time.Second),
			ConnectRetry:      uint64(o.ConnectRetry / time.Second),
			// GoBGP refuses incoming connections while idle after a reset (30 s by
			// default), which would keep a restarted peer out for that long.
			IdleHoldTimeAfterReset: uint64(o.IdleHoldTime / time.Second),
		}},
		AfiSafis: []*api.AfiSafi{{
			Config:            &api.AfiSafiConfig{Family: familyOf(p.Address), Enabled: true},
			MpGracefulRestart: &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: gr.Enabled}},
		}},
	}
	if p.RouteReflectorClient {
		ap.RouteReflector = &api.RouteReflector{RouteReflectorClient: true, RouteReflectorClusterId: o.ClusterID}
	}
	if gr.Enabled {
		ap.GracefulRestart = &api.GracefulRestart{Enabled: true, RestartTime: uint32(gr.RestartTime / time.Second)}
	}
	if p.TTLSecurity > 0 {
		// GTSM: the peer sends with TTL 255, so n hops away means at least 256-n.
		ap.TtlSecurity = &api.TtlSecurity{Enabled: true, TtlMin: uint32(256 - int(p.TTLSecurity))}
	} else if p.EBGPMultihopTTL > 0 {
		ap.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(p.EBGPMultihopTTL)}
	}
	return ap
}

// originPath is a path for a prefix this node originates, with next hop nh.
func originPath(prefix netip.Prefix, nh netip.Addr) (*api.Path, error) {
	if prefix.Addr().Is4() != nh.Is4() {
		return nil, fmt.Errorf("prefix %s needs a next hop of its family, have %v", prefix, nh)
	}
	origin := bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP)
	if prefix.Addr().Is4() {
		nlri := bgp.NewIPAddrPrefix(uint8(prefix.Bits()), prefix.Addr().String())
		return apiutil.NewPath(nlri, false, []bgp.PathAttributeInterface{origin, bgp.NewPathAttributeNextHop(nh.String())}, time.Now())
	}
	nlri := bgp.NewIPv6AddrPrefix(uint8(prefix.Bits()), prefix.Addr().String())
	mp := bgp.NewPathAttributeMpReachNLRI(nh.String(), []bgp.AddrPrefixInterface{nlri})
	return apiutil.NewPath(nlri, false, []bgp.PathAttributeInterface{origin, mp}, time.Now())
}

// learned extracts prefix and next hop from a path GoBGP reports.
func learned(p *api.Path) (netip.Prefix, netip.Addr, error) {
	nlri, err := apiutil.GetNativeNlri(p)
	if err != nil {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("decoding NLRI: %w", err)
	}
	prefix, err := netip.ParsePrefix(nlri.String())
	if err != nil {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("NLRI %q is not an IP prefix: %w", nlri, err)
	}
	attrs, err := apiutil.GetNativePathAttributes(p)
	if err != nil {
		return prefix, netip.Addr{}, fmt.Errorf("decoding attributes of %s: %w", prefix, err)
	}
	for _, a := range attrs {
		switch a := a.(type) {
		case *bgp.PathAttributeNextHop:
			if nh, ok := netip.AddrFromSlice(a.Value); ok {
				return prefix, nh.Unmap(), nil
			}
		case *bgp.PathAttributeMpReachNLRI:
			if nh, ok := netip.AddrFromSlice(a.Nexthop); ok {
				return prefix, nh.Unmap(), nil
			}
		}
	}
	return prefix, netip.Addr{}, fmt.Errorf("path for %s has no next hop", prefix)
}

// sessionRow words a GoBGP session state the way BIRD-based tools show it.
func sessionRow(s api.PeerState_SessionState, admin api.PeerState_AdminState) (state, info string) {
	if admin == api.PeerState_DOWN {
		return "down", "Admin down"
	}
	switch s {
	case api.PeerState_ESTABLISHED:
		return "up", "Established"
	case api.PeerState_IDLE:
		return "start", "Idle"
	case api.PeerState_CONNECT:
		return "start", "Connect"
	case api.PeerState_ACTIVE:
		return "start", "Active"
	case api.PeerState_OPENSENT:
		return "start", "OpenSent"
	case api.PeerState_OPENCONFIRM:
		return "start", "OpenConfirm"
	}
	return "start", "Unknown"
}

// zapLogger lets GoBGP log through the agent's zap logger.
type zapLogger struct {
	l     *zap.Logger
	level gobgplog.LogLevel
}

func newZapLogger(l *zap.Logger) *zapLogger {
	return &zapLogger{l: l.Named("gobgp"), level: gobgplog.InfoLevel}
}

func fields(f gobgplog.Fields) []zap.Field {
	out := make([]zap.Field, 0, len(f))
	for k, v := range f {
		out = append(out, zap.Any(k, v))
	}
	return out
}

func (z *zapLogger) Panic(msg string, f gobgplog.Fields) { z.l.Panic(msg, fields(f)...) }

// Fatal is downgraded to an error: GoBGP must not end the agent's process.
func (z *zapLogger) Fatal(msg string, f gobgplog.Fields) { z.l.Error(msg, fields(f)...) }
func (z *zapLogger) Error(msg string, f gobgplog.Fields) { z.l.Error(msg, fields(f)...) }
func (z *zapLogger) Warn(msg string, f gobgplog.Fields)  { z.l.Warn(msg, fields(f)...) }
func (z *zapLogger) Info(msg string, f gobgplog.Fields) {
	if z.level >= gobgplog.InfoLevel {
		z.l.Info(msg, fields(f)...)
	}
}
func (z *zapLogger) Debug(msg string, f gobgplog.Fields) {
	if z.level >= gobgplog.DebugLevel {
		z.l.Debug(msg, fields(f)...)
	}
}
func (z *zapLogger) SetLevel(level gobgplog.LogLevel) { z.level = level }
func (z *zapLogger) GetLevel() gobgplog.LogLevel      { return z.level }
