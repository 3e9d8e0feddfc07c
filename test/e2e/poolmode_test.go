package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A pool mode change, as an operator makes it with kubectl, while a TCP stream and a
// 10 ms ping run between pods on different nodes: each step must move the routes to
// the new device and keep every byte and echo flowing.
var poolModeSteps = []struct {
	vxlanMode string
	device    string // the device node-1 routes node-2's pods through afterwards
}{
	{"Always", "vxlan.calico"},
	// All nodes share one subnet, so CrossSubnet routes directly.
	{"CrossSubnet", "eth0"},
	{"Always", "vxlan.calico"},
	{"Never", "eth0"},
}

func (c *cluster) testPoolModeChange(t *testing.T) {
	c.ensureNamespace("poolmode", nil)
	src := c.addPod(podSpec{namespace: "poolmode", name: "src", node: c.nodes[0],
		labels: map[string]string{"app": "src"}, ports: []uint16{7100}})
	dst := c.addPod(podSpec{namespace: "poolmode", name: "dst", node: c.nodes[1],
		labels: map[string]string{"app": "dst"}, ports: []uint16{7100}})
	t.Cleanup(func() { c.setVXLANMode(t, "Never") })
	if got := routeDevice(t, src.node, dst); got != "eth0" {
		t.Fatalf("before the change %s routes %s via %s, want eth0 (native routing)", src.node.name, dst.ip, got)
	}
	// The two pods to and from every pod on another node, on a port it serves.
	var probes []probe
	for _, p := range c.pods {
		for _, end := range []*pod{src, dst} {
			if p.node != end.node {
				probes = append(probes, probe{end, p, TCP, p.ports[0]}, probe{p, end, TCP, 7100})
			}
		}
	}
	for i, step := range poolModeSteps {
		t.Run(fmt.Sprintf("%d-vxlanMode=%s", i+1, step.vxlanMode), func(t *testing.T) {
			tcp, err := startStream(src, dst, 7100, 10*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			ping, err := startPinger(src, dst.ip, 10*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			routes := watchRoutes(began, map[*node]*pod{src.node: dst, dst.node: src})
			time.Sleep(500 * time.Millisecond)
			c.setVXLANMode(t, step.vxlanMode)
			changed := time.Since(began)
			took, err := c.waitRoutes(src, dst, step.device, 15*time.Second)
			if err != nil {
				t.Error(err)
			}
			time.Sleep(2 * time.Second)
			sent, received, maxGap, streamErr := tcp.finish()
			pings, lost, pingErr := ping.finish()
			routeChanges := routes.finish()
			t.Logf("vxlanMode %s: routes via %s on both nodes %s after kubectl returned; stream %d/%d records (longest gap %s), ping %d sent %d lost",
				step.vxlanMode, step.device, took.Round(time.Millisecond), received, sent, maxGap.Round(time.Millisecond), pings, len(lost))
			if streamErr != nil || received != sent {
				t.Errorf("TCP stream across the change: %d of %d records echoed, error %v", received, sent, streamErr)
			}
			if pingErr != nil || len(lost) > 0 {
				t.Errorf("ping across the change lost %d of %d (sequence numbers %s, sent about n×10ms after 0), error %v\n"+
					"  %7.2fs kubectl patch returned\n  routes between the pods:\n  %s",
					len(lost), pings, firstN(lost, 20), pingErr, changed.Seconds(), strings.Join(routeChanges, "\n  "))
			}
			want, err := c.expected(probes)
			if err != nil {
				t.Fatal(err)
			}
			if wrong, _ := waitForVerdicts(probes, want, 400*time.Millisecond, 5*time.Second); len(wrong) > 0 {
				t.Errorf("after vxlanMode %s, cross-node probes fail:\n  %s", step.vxlanMode, join(wrong))
			}
		})
	}
}

// setVXLANMode changes the pool with kubectl patch, as an operator would.
func (c *cluster) setVXLANMode(t *testing.T, mode string) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"vxlanMode":%q}}`, mode)
	if _, err := c.kubectl(nil, "patch", "ippools.projectcalico.org", poolName, "--type=merge", "-p", patch); err != nil {
		t.Fatal(err)
	}
}

// waitRoutes waits until each of the two pods' nodes routes the other pod through
// device, and returns how long that took.
func (c *cluster) waitRoutes(a, b *pod, device string, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	for {
		ab, errAB := routeDeviceErr(a.node, b)
		ba, errBA := routeDeviceErr(b.node, a)
		if errAB == nil && errBA == nil && ab == device && ba == device {
			return time.Since(start), nil
		}
		if time.Since(start) > timeout {
			return 0, fmt.Errorf("after %s %s routes %s via %q (%v) and %s routes %s via %q (%v), want %s",
				timeout, a.node.name, b.ip, ab, errAB, b.node.name, a.ip, ba, errBA, device)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func routeDevice(t *testing.T, n *node, to *pod) string {
	t.Helper()
	dev, err := routeDeviceErr(n, to)
	if err != nil {
		t.Fatal(err)
	}
	return dev
}

// routeDeviceErr asks the node's kernel which device it sends the pod's traffic out of.
func routeDeviceErr(n *node, to *pod) (string, error) {
	out, err := n.ns.Run("ip", "-o", "route", "get", to.ip.String())
	if err != nil {
		return "", err
	}
	fields := strings.Fields(out)
	for i := 0; i+1 < len(fields); i++ {
		if fields[i] == "dev" {
			return fields[i+1], nil
		}
	}
	return "", fmt.Errorf("no device in %q", strings.TrimSpace(out))
}
