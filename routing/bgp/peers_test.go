package bgp

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var ipCmp = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

// fakeMatch understands "all()", "has(k)", "!has(k)" and "k == 'v'"; anything else
// is a parse error, so tests can check error handling.
func fakeMatch(sel string, labels map[string]string) (bool, error) {
	switch {
	case sel == "all()":
		return true, nil
	case strings.HasPrefix(sel, "!has(") && strings.HasSuffix(sel, ")"):
		_, ok := labels[sel[5:len(sel)-1]]
		return !ok, nil
	case strings.HasPrefix(sel, "has(") && strings.HasSuffix(sel, ")"):
		_, ok := labels[sel[4:len(sel)-1]]
		return ok, nil
	case strings.Contains(sel, " == "):
		k, v, _ := strings.Cut(sel, " == ")
		return labels[k] == strings.Trim(v, "'"), nil
	}
	return false, fmt.Errorf("cannot parse %q", sel)
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func boolp(b bool) *bool { return &b }

var threeNodes = []Node{
	{Name: "n1", IP: ip("10.0.0.1"), Labels: map[string]string{"rack": "a"}},
	{Name: "n2", IP: ip("10.0.0.2"), Labels: map[string]string{"rack": "a"}},
	{Name: "n3", IP: ip("10.0.0.3"), ASNumber: 64513, Labels: map[string]string{"rack": "b"}},
	{Name: "n4"}, // no IP yet: never a peer
}

func TestComputePeers(t *testing.T) {
	rrNodes := []Node{
		{Name: "rr1", IP: ip("10.0.1.1"), RouteReflectorClusterID: "224.0.0.1", Labels: map[string]string{"route-reflector": "true"}},
		{Name: "rr2", IP: ip("10.0.1.2"), RouteReflectorClusterID: "224.0.0.1", Labels: map[string]string{"route-reflector": "true"}},
		{Name: "c1", IP: ip("10.0.0.1")},
		{Name: "c2", IP: ip("10.0.0.2")},
		{Name: "c3", IP: ip("10.0.0.3")},
	}
	cases := []struct {
		name     string
		in       PeerInput
		want     []Peer
		wantErrs []string
	}{
		{
			name: "default full mesh with per-node AS",
			in:   PeerInput{Local: "n1", Nodes: threeNodes},
			want: []Peer{
				{Address: ip("10.0.0.2"), ASNumber: 64512, Type: TypeMesh, Source: "n2"},
				{Address: ip("10.0.0.3"), ASNumber: 64513, Type: TypeMesh, Source: "n3"},
			},
		},
		{
			name:     "unknown local node",
			in:       PeerInput{Local: "n3", Nodes: threeNodes[:2:2], Config: Config{ASNumber: 65001}},
			wantErrs: []string{`local node "n3" is not among the nodes`},
		},
		{
			name: "the higher address waits for the lower one to connect",
			in:   PeerInput{Local: "n3", Nodes: threeNodes},
			want: []Peer{
				{Address: ip("10.0.0.1"), ASNumber: 64512, Type: TypeMesh, Source: "n1", Passive: true},
				{Address: ip("10.0.0.2"), ASNumber: 64512, Type: TypeMesh, Source: "n2", Passive: true},
			},
		},
		{
			name: "configured AS",
			in:   PeerInput{Local: "n1", Nodes: threeNodes[:2], Config: Config{ASNumber: 65001}},
			want: []Peer{{Address: ip("10.0.0.2"), ASNumber: 65001, Type: TypeMesh, Source: "n2"}},
		},
		{
			name: "mesh disabled, no specs: no peers",
			in:   PeerInput{Local: "n1", Nodes: threeNodes, Config: Config{NodeToNodeMesh: boolp(false)}},
			want: []Peer{},
		},
		{
			name: "global peer by IP, eBGP with options",
			in: PeerInput{Local: "n1", Nodes: threeNodes, Config: Config{NodeToNodeMesh: boolp(false)},
				Specs: []PeerSpec{{Name: "tor", PeerIP: ip("192.168.1.254"), ASNumber: 65000, Password: "s3cret",
					KeepOriginalNextHop: true, TTLSecurity: 1, EBGPMultihopTTL: 2, PeerPort: 1179}}},
			want: []Peer{{Address: ip("192.168.1.254"), Port: 1179, ASNumber: 65000, Type: TypeGlobal, Source: "tor",
				Password: "s3cret", KeepOriginalNextHop: true, TTLSecurity: 1, EBGPMultihopTTL: 2}},
		},
		{
			name: "peer IP without AS is iBGP",
			in: PeerInput{Local: "n3", Nodes: threeNodes, Config: Config{NodeToNodeMesh: boolp(false)},
				Specs: []PeerSpec{{Name: "x", PeerIP: ip("192.168.1.1")}}},
			want: []Peer{{Address: ip("192.168.1.1"), ASNumber: 64513, Type: TypeGlobal, Source: "x"}},
		},
		{
			name: "node specific by name applies to that node only",
			in: PeerInput{Local: "n2", Nodes: threeNodes, Config: Config{NodeToNodeMesh: boolp(false)},
				Specs: []PeerSpec{
					{Name: "for-n1", Node: "n1", PeerIP: ip("192.168.1.1"), ASNumber: 65000},
					{Name: "for-n2", Node: "n2", PeerIP: ip("192.168.1.2"), ASNumber: 65000},
				}},
			want: []Peer{{Address: ip("192.168.1.2"), ASNumber: 65000, Type: TypeNodeSpecific, Source: "for-n2"}},
		},
		{
			name: "node selector and peer selector",
			in: PeerInput{Local: "n1", Nodes: threeNodes, Config: Config{NodeToNodeMesh: boolp(false)}, Match: fakeMatch,
				Specs: []PeerSpec{
					{Name: "rack-a", NodeSelector: "rack == 'a'", PeerSelector: "rack == 'b'"},
					{Name: "rack-b", NodeSelector: "rack == 'b'", PeerIP: ip("192.168.9.9")},
				}},
			want: []Peer{{Address: ip("10.0.0.3"), ASNumber: 64513, Type: TypeNodeSpecific, Source: "n3"}},
		},
		{
			name: "explicit peer wins over mesh for the same address",
			in: PeerInput{Local: "n1", Nodes: threeNodes, Match: fakeMatch,
				Specs: []PeerSpec{{Name: "to-n2", Node: "n1", PeerIP: ip("10.0.0.2"), Password: "pw"},
					{Name: "global-n2", PeerIP: ip("10.0.0.2")}}},
			want: []Peer{
				{Address: ip("10.0.0.2"), ASNumber: 64512, Type: TypeNodeSpecific, Source: "to-n2", Password: "pw"},
				{Address: ip("10.0.0.3"), ASNumber: 64513, Type: TypeMesh, Source: "n3"},
			},
		},
		{
			name: "a peer pointing at ourselves is dropped",
			in: PeerInput{Local: "n1", Nodes: threeNodes, Config: Config{NodeToNodeMesh: boolp(false)}, Match: fakeMatch,
				Specs: []PeerSpec{{Name: "all", PeerSelector: "all()"}}},
			want: []Peer{
				{Address: ip("10.0.0.2"), ASNumber: 64512, Type: TypeGlobal, Source: "n2"},
				{Address: ip("10.0.0.3"), ASNumber: 64513, Type: TypeGlobal, Source: "n3"},
			},
		},
		{
			name: "route reflector replaces the mesh: reflector side",
			in:   PeerInput{Local: "rr1", Nodes: rrNodes},
			want: []Peer{
				{Address: ip("10.0.0.1"), ASNumber: 64512, Type: TypeGlobal, Source: "c1", RouteReflectorClient: true, Passive: true},
				{Address: ip("10.0.0.2"), ASNumber: 64512, Type: TypeGlobal, Source: "c2", RouteReflectorClient: true, Passive: true},
				{Address: ip("10.0.0.3"), ASNumber: 64512, Type: TypeGlobal, Source: "c3", RouteReflectorClient: true, Passive: true},
				{Address: ip("10.0.1.2"), ASNumber: 64512, Type: TypeGlobal, Source: "rr2"},
			},
		},
		{
			name: "route reflector replaces the mesh: client side has no client sessions",
			in:   PeerInput{Local: "c2", Nodes: rrNodes},
			want: []Peer{
				{Address: ip("10.0.1.1"), ASNumber: 64512, Type: TypeGlobal, Source: "rr1"},
				{Address: ip("10.0.1.2"), ASNumber: 64512, Type: TypeGlobal, Source: "rr2"},
			},
		},
		{
			name: "Calico-style reflectors through BGPPeers with the mesh off",
			in: PeerInput{Local: "rr1", Nodes: rrNodes, Config: Config{NodeToNodeMesh: boolp(false)}, Match: fakeMatch,
				Specs: []PeerSpec{
					{Name: "peer-with-rr", NodeSelector: "all()", PeerSelector: "has(route-reflector)"},
					{Name: "rr-to-clients", NodeSelector: "has(route-reflector)", PeerSelector: "!has(route-reflector)"},
				}},
			want: []Peer{
				{Address: ip("10.0.0.1"), ASNumber: 64512, Type: TypeNodeSpecific, Source: "c1", RouteReflectorClient: true, Passive: true},
				{Address: ip("10.0.0.2"), ASNumber: 64512, Type: TypeNodeSpecific, Source: "c2", RouteReflectorClient: true, Passive: true},
				{Address: ip("10.0.0.3"), ASNumber: 64512, Type: TypeNodeSpecific, Source: "c3", RouteReflectorClient: true, Passive: true},
				{Address: ip("10.0.1.2"), ASNumber: 64512, Type: TypeNodeSpecific, Source: "rr2"},
			},
		},
		{
			name: "bad specs are reported and skipped",
			in: PeerInput{Local: "n1", Nodes: threeNodes[:2], Match: fakeMatch,
				Specs: []PeerSpec{
					{Name: "bad-sel", NodeSelector: "rack ~ 'a'", PeerIP: ip("192.168.1.1")},
					{Name: "bad-peer-sel", PeerSelector: "((("},
					{Name: "both", PeerIP: ip("192.168.1.1"), PeerSelector: "all()"},
					{Name: "none"},
					{Name: "node-and-sel", Node: "n1", NodeSelector: "all()", PeerIP: ip("192.168.1.1")},
				}},
			want: []Peer{{Address: ip("10.0.0.2"), ASNumber: 64512, Type: TypeMesh, Source: "n2"}},
			wantErrs: []string{
				`BGP peer "bad-sel": nodeSelector "rack ~ 'a'": cannot parse "rack ~ 'a'"`,
				`BGP peer "bad-peer-sel": peerSelector "(((": cannot parse "((("`,
				`BGP peer "both": peerIP and peerSelector are mutually exclusive`,
				`BGP peer "none": neither peerIP nor peerSelector is set`,
				`BGP peer "node-and-sel": node and nodeSelector are mutually exclusive`,
			},
		},
		{
			name:     "selectors without a matcher",
			in:       PeerInput{Local: "n1", Nodes: threeNodes[:1], Specs: []PeerSpec{{Name: "s", NodeSelector: "all()", PeerIP: ip("1.2.3.4")}}},
			want:     []Peer{},
			wantErrs: []string{`BGP peer "s": nodeSelector "all()" needs a selector matcher`},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, errs := ComputePeers(c.in)
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
			if diff := cmp.Diff(c.wantErrs, msgs); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if c.want == nil {
				return
			}
			if diff := cmp.Diff(c.want, got, ipCmp); diff != "" {
				t.Errorf("peers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLocalAS(t *testing.T) {
	if got := LocalAS(Config{}, Node{}); got != 64512 {
		t.Errorf("default AS = %d", got)
	}
	if got := LocalAS(Config{ASNumber: 65001}, Node{}); got != 65001 {
		t.Errorf("configured AS = %d", got)
	}
	if got := LocalAS(Config{ASNumber: 65001}, Node{ASNumber: 65002}); got != 65002 {
		t.Errorf("node AS = %d", got)
	}
}
