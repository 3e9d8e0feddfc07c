package bgp

import (
	"net/netip"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

func TestAPIPeer(t *testing.T) {
	o := &Options{ClusterID: "224.0.0.1", ListenAddress: "192.168.40.112",
		GracefulRestart: GracefulRestart{Enabled: true, RestartTime: 120 * time.Second},
		HoldTime:        90 * time.Second, KeepaliveInterval: 30 * time.Second, ConnectRetry: 5 * time.Second, IdleHoldTime: 2 * time.Second}
	p := Peer{Address: netip.MustParseAddr("192.168.40.101"), Port: 1179, ASNumber: 65000, Type: TypeGlobal, Source: "tor",
		Password: "pw", RouteReflectorClient: true, Passive: true, TTLSecurity: 1}
	ap := apiPeer(p, o)
	checks := []struct {
		name      string
		got, want any
	}{
		{"neighbor", ap.Conf.NeighborAddress, "192.168.40.101"},
		{"peer AS", ap.Conf.PeerAsn, uint32(65000)},
		{"password", ap.Conf.AuthPassword, "pw"},
		{"description", ap.Conf.Description, "global tor"},
		{"remote port", ap.Transport.RemotePort, uint32(1179)},
		{"local address", ap.Transport.LocalAddress, "192.168.40.112"},
		{"passive", ap.Transport.PassiveMode, true},
		{"RR client", ap.RouteReflector.GetRouteReflectorClient(), true},
		{"cluster ID", ap.RouteReflector.GetRouteReflectorClusterId(), "224.0.0.1"},
		{"GR", ap.GracefulRestart.GetEnabled(), true},
		{"GR time", ap.GracefulRestart.GetRestartTime(), uint32(120)},
		{"family GR", ap.AfiSafis[0].MpGracefulRestart.Config.Enabled, true},
		{"family", ap.AfiSafis[0].Config.Family.Afi, api.Family_AFI_IP},
		{"hold", ap.Timers.Config.HoldTime, uint64(90)},
		{"idle hold", ap.Timers.Config.IdleHoldTimeAfterReset, uint64(2)},
		{"GTSM one hop accepts TTL 255 only", ap.TtlSecurity.GetTtlMin(), uint32(255)},
		{"no multihop with GTSM", ap.EbgpMultihop == nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	p = Peer{Address: netip.MustParseAddr("fd00::1"), ASNumber: 65000, EBGPMultihopTTL: 3}
	ap = apiPeer(p, &Options{})
	if ap.EbgpMultihop.GetMultihopTtl() != 3 || ap.TtlSecurity != nil || ap.RouteReflector != nil || ap.GracefulRestart != nil {
		t.Errorf("multihop peer: %v", ap)
	}
	if ap.AfiSafis[0].Config.Family.Afi != api.Family_AFI_IP6 {
		t.Errorf("IPv6 peer family = %v", ap.AfiSafis[0].Config.Family)
	}
}

func TestSessionRow(t *testing.T) {
	cases := []struct {
		s           api.PeerState_SessionState
		admin       api.PeerState_AdminState
		state, info string
	}{
		{api.PeerState_ESTABLISHED, api.PeerState_UP, "up", "Established"},
		{api.PeerState_ACTIVE, api.PeerState_UP, "start", "Active"},
		{api.PeerState_CONNECT, api.PeerState_UP, "start", "Connect"},
		{api.PeerState_IDLE, api.PeerState_UP, "start", "Idle"},
		{api.PeerState_OPENSENT, api.PeerState_UP, "start", "OpenSent"},
		{api.PeerState_OPENCONFIRM, api.PeerState_UP, "start", "OpenConfirm"},
		{api.PeerState_ESTABLISHED, api.PeerState_DOWN, "down", "Admin down"},
	}
	for _, c := range cases {
		state, info := sessionRow(c.s, c.admin)
		if state != c.state || info != c.info {
			t.Errorf("sessionRow(%v, %v) = %q, %q; want %q, %q", c.s, c.admin, state, info, c.state, c.info)
		}
	}
}

func TestOriginAndLearnedPathRoundTrip(t *testing.T) {
	for _, c := range []struct{ prefix, nh string }{{"172.16.0.64/26", "10.0.0.2"}, {"fd00:10::/122", "fd00::2"}} {
		p, err := originPath(netip.MustParsePrefix(c.prefix), netip.MustParseAddr(c.nh))
		if err != nil {
			t.Fatal(err)
		}
		prefix, nh, err := learned(p)
		if err != nil || prefix.String() != c.prefix || nh.String() != c.nh {
			t.Errorf("round trip of %s via %s: %s via %s, %v", c.prefix, c.nh, prefix, nh, err)
		}
	}
}
