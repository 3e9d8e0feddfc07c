package workload_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/palisadenet/palisade/dataplane/workload"
	"github.com/palisadenet/palisade/internal/netnstest"
)

// nodeAddr is an address on the node namespace's loopback that pods ping.
var nodeAddr = netip.MustParsePrefix("10.99.0.1/32")

func setupIn(t *testing.T, node *netnstest.NS, spec workload.Spec) workload.Result {
	t.Helper()
	var res workload.Result
	if err := node.Do(func() error {
		var err error
		res, err = workload.Setup(spec)
		return err
	}); err != nil {
		t.Fatalf("Setup(%+v): %v", spec, err)
	}
	return res
}

func TestSetupVerifyTeardown(t *testing.T) {
	netnstest.Require(t)
	node := netnstest.New(t, "node")
	node.MustRun(t, "ip", "addr", "add", nodeAddr.String(), "dev", "lo")
	podA, podB := netnstest.New(t, "pa"), netnstest.New(t, "pb")
	specA := workload.Spec{
		NetNSPath: podA.Path(), HostIface: "calitest0000a", PodIface: "eth0", MTU: 1450,
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.65.0.1/32"), netip.MustParsePrefix("fd00:65::1/128")},
	}
	specB := specA
	specB.NetNSPath, specB.HostIface = podB.Path(), "calitest0000b"
	specB.Addrs = []netip.Prefix{netip.MustParsePrefix("10.65.0.2/32"), netip.MustParsePrefix("fd00:65::2/128")}

	res := setupIn(t, node, specA)
	setupIn(t, node, specB)
	if res.Host.Name != specA.HostIface || res.Host.MAC.String() != "ee:ee:ee:ee:ee:ee" || res.Host.MTU != 1450 {
		t.Errorf("host side = %+v, want %s with MAC ee:ee:ee:ee:ee:ee MTU 1450", res.Host, specA.HostIface)
	}
	if res.Pod.Name != "eth0" || res.Pod.Index == 0 || len(res.Pod.MAC) != 6 {
		t.Errorf("pod side = %+v, want eth0 with an index and a MAC", res.Pod)
	}
	for _, spec := range []workload.Spec{specA, specB} {
		if err := node.Do(func() error { return workload.Verify(spec) }); err != nil {
			t.Errorf("Verify after Setup: %v", err)
		}
	}
	routes := node.MustRun(t, "ip", "route", "show", "10.65.0.1/32")
	if !strings.Contains(routes, "dev calitest0000a proto 81 scope link") {
		t.Errorf("host route = %q, want dev calitest0000a proto 81 scope link", routes)
	}
	if got := podA.MustRun(t, "ip", "neigh", "show", "169.254.1.1"); !strings.Contains(got, "ee:ee:ee:ee:ee:ee PERMANENT") {
		t.Errorf("pod neighbour = %q, want a permanent entry for ee:ee:ee:ee:ee:ee", got)
	}
	for _, dst := range []string{"10.99.0.1", "10.65.0.2", "fd00:65::2"} {
		if err := podA.Ping(netip.MustParseAddr(dst), 2*time.Second); err != nil {
			t.Errorf("pod A → %s: %v", dst, err)
		}
	}

	// An IPv6-only pod gets no IPv4 gateway and still reaches the others over IPv6.
	podC := netnstest.New(t, "pc")
	specC := workload.Spec{NetNSPath: podC.Path(), HostIface: "calitest0000c", PodIface: "eth0", MTU: 1450,
		Addrs: []netip.Prefix{netip.MustParsePrefix("fd00:65::3/128")}}
	setupIn(t, node, specC)
	if err := node.Do(func() error { return workload.Verify(specC) }); err != nil {
		t.Errorf("Verify IPv6-only: %v", err)
	}
	if got := podC.MustRun(t, "ip", "-4", "route", "show"); strings.TrimSpace(got) != "" {
		t.Errorf("IPv6-only pod has IPv4 routes: %q", got)
	}
	if err := podC.Ping(netip.MustParseAddr("fd00:65::1"), 2*time.Second); err != nil {
		t.Errorf("IPv6-only pod → fd00:65::1: %v", err)
	}

	// Verify notices damage.
	podA.MustRun(t, "ip", "route", "del", "default")
	if err := node.Do(func() error { return workload.Verify(specA) }); err == nil || !strings.Contains(err.Error(), "missing route 0.0.0.0/0 via 169.254.1.1") {
		t.Errorf("Verify after deleting the pod's default route = %v, want a missing-route error", err)
	}

	for i := range 2 {
		if err := node.Do(func() error { return workload.Teardown(specA.NetNSPath, "eth0", specA.HostIface) }); err != nil {
			t.Fatalf("Teardown #%d: %v", i+1, err)
		}
	}
	if out := node.MustRun(t, "ip", "-o", "link", "show"); strings.Contains(out, "calitest0000a") {
		t.Errorf("host interface left after Teardown:\n%s", out)
	}
	if out := node.MustRun(t, "ip", "route", "show", "10.65.0.1/32"); strings.TrimSpace(out) != "" {
		t.Errorf("host route left after Teardown: %q", out)
	}
	// A namespace that is gone is no error either.
	if err := node.Do(func() error {
		return workload.Teardown("/var/run/netns/palisade-no-such-ns", "eth0", "calinosuchiface")
	}); err != nil {
		t.Errorf("Teardown of a missing namespace: %v", err)
	}
}

func TestSetupFailureLeavesNothing(t *testing.T) {
	netnstest.Require(t)
	node := netnstest.New(t, "node")
	pod := netnstest.New(t, "pod")
	// An eth0 already in the pod makes the veth creation fail.
	pod.MustRun(t, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "other0")
	spec := workload.Spec{NetNSPath: pod.Path(), HostIface: "calitest0000c", PodIface: "eth0", MTU: 1450,
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.65.0.3/32")}}
	err := node.Do(func() error { _, err := workload.Setup(spec); return err })
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("Setup with eth0 present = %v, want an already-exists error", err)
	}
	if out := node.MustRun(t, "ip", "-o", "link", "show"); strings.Contains(out, "calitest0000c") {
		t.Errorf("host interface left after failed Setup:\n%s", out)
	}
	// A bad netns path fails before anything is created.
	spec.NetNSPath = "/var/run/netns/palisade-no-such-ns"
	if err := node.Do(func() error { _, err := workload.Setup(spec); return err }); err == nil || !strings.Contains(err.Error(), "opening pod network namespace") {
		t.Errorf("Setup with a missing netns = %v, want an opening-namespace error", err)
	}
}
