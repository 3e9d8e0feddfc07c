package agent

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/routing/bgp"
	"github.com/palisadenet/palisade/routing/routes"
)

func k8sNode(name string, ann map[string]string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann}}
}

func block(cidr, node string) *v3.IPAMBlock {
	aff := "host:" + node
	return &v3.IPAMBlock{ObjectMeta: metav1.ObjectMeta{Name: strings.NewReplacer(".", "-", "/", "-").Replace(cidr)},
		Spec: v3.IPAMBlockSpec{CIDR: cidr, Affinity: &aff}}
}

func upd(kind datastore.Kind, name string, obj runtime.Object) datastore.Update {
	return datastore.Update{Key: datastore.Key{Kind: kind, Name: name}, Object: obj}
}

// The routing view turns Nodes, pools and blocks into the router's input and the
// speaker's peers, skipping (and reporting) what it cannot use.
func TestRoutingViewFromDatastore(t *testing.T) {
	v := newRoutingView()
	never := v3.EncapMode("Never")
	pool := &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: v3.IPPoolSpec{CIDR: "192.168.0.0/16", IPIPMode: never}}
	changed := v.apply([]datastore.Update{
		upd("IPPool", "p", pool),
		upd("IPAMBlock", "b1", block("192.168.1.0/26", "n1")),
		upd("IPAMBlock", "b2", block("192.168.2.0/26", "n2")),
		upd(datastore.KindNode, "n1", k8sNode("n1", map[string]string{AnnotationIPv4Address: "10.0.0.1/24"})),
		upd(datastore.KindNode, "n2", k8sNode("n2", map[string]string{AnnotationIPv4Address: "10.0.0.2/24", AnnotationASNumber: "65001"})),
		upd(datastore.KindNode, "n3", k8sNode("n3", map[string]string{AnnotationIPv4Address: "garbage"})),
		upd(datastore.KindPod, "ignored", &corev1.Pod{}),
	})
	if !changed {
		t.Fatal("apply reported no change")
	}
	local := routes.LocalNode{Name: "n1", Address: netip.MustParsePrefix("10.0.0.1/24")}
	in, problems := v.routeInput(local)
	if len(problems) != 1 || !strings.Contains(problems[0], "node n3") {
		t.Errorf("problems = %q, want one about Node n3", problems)
	}
	want := []routes.RemoteNode{{Name: "n2", IP: netip.MustParseAddr("10.0.0.2")}}
	if diff := cmp.Diff(want, in.Nodes, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("remote nodes (-want +got):\n%s", diff)
	}
	if len(in.Blocks) != 2 || len(in.Pools) != 1 {
		t.Errorf("blocks %v pools %v, want 2 and 1", in.Blocks, in.Pools)
	}
	if got := v.ownBlocks("n1"); len(got) != 1 || got[0] != netip.MustParsePrefix("192.168.1.0/26") {
		t.Errorf("own blocks of n1 = %v", got)
	}

	peerIn, problems := v.peerInput("n1", matchSelector, nil)
	if len(problems) != 1 {
		t.Errorf("peer problems = %q, want the one about n3", problems)
	}
	peers, errs := bgp.ComputePeers(peerIn)
	if len(errs) != 0 || len(peers) != 1 || peers[0].Address != netip.MustParseAddr("10.0.0.2") || peers[0].ASNumber != 65001 {
		t.Errorf("peers = %+v errs %v, want n2 at AS 65001", peers, errs)
	}

	// Deleting the node removes its peer and its routes' next hop.
	v.apply([]datastore.Update{upd(datastore.KindNode, "n2", nil)})
	in, _ = v.routeInput(local)
	if len(in.Nodes) != 0 {
		t.Errorf("after deleting n2, nodes = %v", in.Nodes)
	}
}

func TestRoutingViewIgnoresOtherKinds(t *testing.T) {
	v := newRoutingView()
	if v.apply([]datastore.Update{upd(datastore.KindPod, "p", &corev1.Pod{}), upd("BGPConfiguration", "not-default", &v3.BGPConfiguration{})}) {
		t.Error("pods and non-default BGPConfigurations must not count as routing changes")
	}
}

func TestSamePrefixesIgnoresOrder(t *testing.T) {
	a := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/26"), netip.MustParsePrefix("10.0.0.64/26")}
	b := []netip.Prefix{a[1], a[0]}
	if !samePrefixes(a, b) || samePrefixes(a, a[:1]) || samePrefixes(a, []netip.Prefix{a[0], netip.MustParsePrefix("10.0.0.0/27")}) {
		t.Error("samePrefixes is not set equality")
	}
}

// natOutgoing pools are masqueraded towards everything outside every pool.
func TestRoutingViewNATOutgoing(t *testing.T) {
	v := newRoutingView()
	yes, no := true, false
	v.apply([]datastore.Update{
		upd("IPPool", "nat", &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "nat"}, Spec: v3.IPPoolSpec{CIDR: "192.168.0.0/16", NATOutgoing: &yes}}),
		upd("IPPool", "plain", &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "plain"}, Spec: v3.IPPoolSpec{CIDR: "10.50.0.0/16", NATOutgoing: &no}}),
		upd("IPPool", "v6", &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "v6"}, Spec: v3.IPPoolSpec{CIDR: "fd00::/48", NATOutgoing: &yes, Disabled: &yes}}),
	})
	nat := v.natOutgoing()
	want := dataplane.NATOutgoing{
		Masquerade: []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("fd00::/48")},
		AllPools:   []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("10.50.0.0/16"), netip.MustParsePrefix("fd00::/48")},
	}
	if diff := cmp.Diff(want, nat, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("NAT (-want +got):\n%s", diff)
	}
}

// Service ranges from BGPConfiguration "default" are advertised by every node;
// IPv6 and malformed ranges are reported, not advertised.
func TestRoutingViewServiceAdvertisements(t *testing.T) {
	v := newRoutingView()
	if got, _ := v.serviceAdvertisements(); len(got) != 0 {
		t.Fatalf("without a BGPConfiguration: %v", got)
	}
	conf := &v3.BGPConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v3.BGPConfigurationSpec{
		ServiceClusterIPs:      []v3.ServiceIPBlock{{CIDR: "10.96.0.0/12"}, {CIDR: "fd00:96::/108"}},
		ServiceExternalIPs:     []v3.ServiceIPBlock{{CIDR: "203.0.113.7"}},
		ServiceLoadBalancerIPs: []v3.ServiceIPBlock{{CIDR: "198.51.100.0/33"}},
	}}
	if !v.apply([]datastore.Update{upd("BGPConfiguration", "default", conf)}) {
		t.Fatal("BGPConfiguration default is a routing change")
	}
	got, problems := v.serviceAdvertisements()
	want := []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12"), netip.MustParsePrefix("203.0.113.7/32")}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("advertised (-want +got):\n%s", diff)
	}
	if len(problems) != 2 || !strings.Contains(problems[0], "serviceClusterIPs[1]") || !strings.Contains(problems[1], "serviceLoadBalancerIPs[0]") {
		t.Errorf("problems = %q", problems)
	}
}
