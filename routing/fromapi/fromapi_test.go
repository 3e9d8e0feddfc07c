package fromapi

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/routing/bgp"
	"github.com/palisadenet/palisade/routing/routes"
)

var ipCmp = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

func ptr[T any](v T) *T { return &v }

func meta(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }

func TestPool(t *testing.T) {
	cases := []struct {
		name    string
		spec    v3.IPPoolSpec
		want    routes.Pool
		wantErr string
	}{
		{name: "modes", spec: v3.IPPoolSpec{CIDR: "172.16.0.0/16", IPIPMode: v3.EncapCrossSubnet, VXLANMode: v3.EncapNever},
			want: routes.Pool{CIDR: netip.MustParsePrefix("172.16.0.0/16"), IPIPMode: routes.EncapCrossSubnet, VXLANMode: routes.EncapNever}},
		{name: "unmasked cidr", spec: v3.IPPoolSpec{CIDR: "172.16.3.4/16", VXLANMode: v3.EncapAlways},
			want: routes.Pool{CIDR: netip.MustParsePrefix("172.16.0.0/16"), VXLANMode: routes.EncapAlways}},
		{name: "v1 ipip cross-subnet", spec: v3.IPPoolSpec{CIDR: "10.0.0.0/8", IPIP: &v3.IPIPConfiguration{Enabled: ptr(true), Mode: "cross-subnet"}},
			want: routes.Pool{CIDR: netip.MustParsePrefix("10.0.0.0/8"), IPIPMode: routes.EncapCrossSubnet}},
		{name: "v1 ipip default mode", spec: v3.IPPoolSpec{CIDR: "10.0.0.0/8", IPIP: &v3.IPIPConfiguration{}},
			want: routes.Pool{CIDR: netip.MustParsePrefix("10.0.0.0/8"), IPIPMode: routes.EncapAlways}},
		{name: "v1 ipip disabled", spec: v3.IPPoolSpec{CIDR: "10.0.0.0/8", IPIP: &v3.IPIPConfiguration{Enabled: ptr(false), Mode: "always"}},
			want: routes.Pool{CIDR: netip.MustParsePrefix("10.0.0.0/8")}},
		{name: "ipipMode wins over v1", spec: v3.IPPoolSpec{CIDR: "10.0.0.0/8", IPIPMode: v3.EncapNever, IPIP: &v3.IPIPConfiguration{Mode: "always"}},
			want: routes.Pool{CIDR: netip.MustParsePrefix("10.0.0.0/8"), IPIPMode: routes.EncapNever}},
		{name: "bad cidr", spec: v3.IPPoolSpec{CIDR: "172.16.0.0"}, wantErr: "IPPool p: spec.cidr"},
		{name: "bad mode", spec: v3.IPPoolSpec{CIDR: "10.0.0.0/8", VXLANMode: "Sometimes"}, wantErr: `spec.vxlanMode: "Sometimes"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Pool(&v3.IPPool{ObjectMeta: meta("p"), Spec: c.spec})
			checkErr(t, err, c.wantErr)
			if c.wantErr == "" {
				if diff := cmp.Diff(c.want, got, ipCmp); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestBlock(t *testing.T) {
	b := &v3.IPAMBlock{ObjectMeta: meta("172-16-58-192-26"), Spec: v3.IPAMBlockSpec{
		CIDR:        "172.16.58.192/26",
		Affinity:    ptr("host:node-112"),
		Allocations: []*int{ptr(0), nil, ptr(1), ptr(2)},
		Attributes: []v3.AllocationAttribute{
			{Secondary: map[string]string{"node": "node-112"}},
			{Secondary: map[string]string{"node": "node-101"}}, // borrowed by node-101
			{Secondary: map[string]string{}},                   // no node recorded
		},
	}}
	blk, borrowed, err := Block(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(routes.Block{CIDR: netip.MustParsePrefix("172.16.58.192/26"), Node: "node-112"}, blk, ipCmp); diff != "" {
		t.Errorf("block (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]routes.Borrowed{{IP: netip.MustParseAddr("172.16.58.194"), Node: "node-101"}}, borrowed, ipCmp); diff != "" {
		t.Errorf("borrowed (-want +got):\n%s", diff)
	}

	b.Spec.Affinity = ptr("virtual:lb")
	if _, _, err := Block(b); err == nil || !strings.Contains(err.Error(), "host:") {
		t.Errorf("bad affinity: err = %v", err)
	}
	b.Spec.Affinity = nil
	b.Spec.Allocations = []*int{ptr(7)}
	if _, _, err := Block(b); err == nil || !strings.Contains(err.Error(), "spec.allocations[0]") {
		t.Errorf("dangling attribute: err = %v", err)
	}
}

func TestConfig(t *testing.T) {
	got, err := Config(&v3.BGPConfiguration{ObjectMeta: meta("default"), Spec: v3.BGPConfigurationSpec{
		NodeToNodeMeshEnabled: ptr(false), ASNumber: &v3.ASNumber{Str: "1.10", IsStr: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if got.ASNumber != 65546 || got.NodeToNodeMesh == nil || *got.NodeToNodeMesh {
		t.Errorf("got %+v", got)
	}
	if got, err := Config(nil); err != nil || got.NodeToNodeMesh != nil || got.ASNumber != 0 {
		t.Errorf("nil config: %+v %v", got, err)
	}
	_, err = Config(&v3.BGPConfiguration{ObjectMeta: meta("default"), Spec: v3.BGPConfigurationSpec{ASNumber: &v3.ASNumber{Num: -1}}})
	checkErr(t, err, "spec.asNumber")
}

func TestPeerSpec(t *testing.T) {
	secrets := func(name, key string) (string, error) {
		if name == "bgp-secrets" && key == "tor" {
			return "s3cret", nil
		}
		return "", errors.New("not found")
	}
	as := v3.ASNumberFromUint32(65000)
	cases := []struct {
		name    string
		spec    v3.BGPPeerSpec
		want    bgp.PeerSpec
		wantErr string
	}{
		{name: "global peer with port, password, ttl security, keep next hop",
			spec: v3.BGPPeerSpec{PeerIP: "192.168.1.254:1179", ASNumber: &as, TTLSecurity: ptr(1), KeepOriginalNextHop: ptr(true),
				Password: &v3.BGPPassword{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "bgp-secrets"}, Key: "tor"}}},
			want: bgp.PeerSpec{Name: "p", PeerIP: netip.MustParseAddr("192.168.1.254"), PeerPort: 1179, ASNumber: 65000,
				Password: "s3cret", TTLSecurity: 1, KeepOriginalNextHop: true}},
		{name: "IPv6 with port", spec: v3.BGPPeerSpec{PeerIP: "[fd00::1]:179", ASNumber: &as},
			want: bgp.PeerSpec{Name: "p", PeerIP: netip.MustParseAddr("fd00::1"), PeerPort: 179, ASNumber: 65000}},
		{name: "node specific by selector, peers by selector, nextHopMode Keep",
			spec: v3.BGPPeerSpec{NodeSelector: "rack == 'a'", PeerSelector: "has(rr)", NextHopMode: "Keep"},
			want: bgp.PeerSpec{Name: "p", NodeSelector: "rack == 'a'", PeerSelector: "has(rr)", KeepOriginalNextHop: true}},
		{name: "bad peer IP", spec: v3.BGPPeerSpec{PeerIP: "10.0.0.300"}, wantErr: "spec.peerIP"},
		{name: "bad port", spec: v3.BGPPeerSpec{PeerIP: "10.0.0.1:0"}, wantErr: "port"},
		{name: "missing secret", spec: v3.BGPPeerSpec{PeerIP: "10.0.0.1", Password: &v3.BGPPassword{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "other"}, Key: "k"}}}, wantErr: "Secret other key k: not found"},
		{name: "ttl out of range", spec: v3.BGPPeerSpec{PeerIP: "10.0.0.1", TTLSecurity: ptr(300)}, wantErr: "spec.ttlSecurity"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := PeerSpec(&v3.BGPPeer{ObjectMeta: meta("p"), Spec: c.spec}, secrets)
			checkErr(t, err, c.wantErr)
			if c.wantErr == "" {
				if diff := cmp.Diff(c.want, got, ipCmp); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}
		})
	}
}
