package scenarios

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/resource"
)

// TestHostEndpointThroughCalc: a HostEndpoint on the node's eth9 and a
// GlobalNetworkPolicy selecting it, through calc into the nftables dataplane, judge
// the node's own traffic on eth9 (the reference evaluator has no host endpoints, so
// the expectations are written here): ingress allows TCP 8080 only, egress TCP 80
// only, failsafe SSH stays open, and forwarded pod traffic is not host traffic.
func TestHostEndpointThroughCalc(t *testing.T) {
	b := newBench(t)
	w := Generate(*seedFlag)
	objs, err := resource.Decode("hep.yaml", []byte(w.YAML+`---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node1-eth9, labels: {role: edge}}
spec: {node: node1, interfaceName: eth9, expectedIPs: ["192.168.0.1", "fd00:99::1"]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: edge}
spec:
  selector: role == 'edge'
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [8080]}}]
  egress: [{action: Allow, protocol: TCP, destination: {ports: [80]}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	var batch []datastore.Update
	for _, o := range objs {
		u, err := datastore.UpdateOf(o.Obj)
		if err != nil {
			t.Fatal(err)
		}
		// Pod policies of the generated world are not the point here.
		if !strings.Contains(string(u.Key.Kind), "NetworkPolicy") || u.Key.Name == "edge" {
			batch = append(batch, u)
		}
	}
	out := append(b.graph.Apply(batch), b.graph.InSync()...)
	if err := checkCalc(b.graph); err != nil {
		t.Fatal(err)
	}
	if err := b.dp.Apply(out); err != nil {
		t.Fatal(err)
	}
	for _, port := range []uint16{8080, 8081, 22} {
		b.node.Listen(t, port)
	}
	ext := b.pods[ExternalIndex]
	var pod int
	for i, p := range w.Present {
		if p {
			pod = i
			break
		}
	}
	for _, p := range []struct {
		name    string
		send    func() error
		allowed bool
	}{
		{"external -> node 8080", func() error { return ext.ProbeTCP(netip.MustParseAddrPort("192.168.0.1:8080"), probeTimeout(true)) }, true},
		{"external -> node [v6] 8080", func() error { return ext.ProbeTCP(netip.MustParseAddrPort("[fd00:99::1]:8080"), probeTimeout(true)) }, true},
		{"external -> node 8081", func() error { return ext.ProbeTCP(netip.MustParseAddrPort("192.168.0.1:8081"), probeTimeout(false)) }, false},
		{"external -> node 22 (failsafe)", func() error { return ext.ProbeTCP(netip.MustParseAddrPort("192.168.0.1:22"), probeTimeout(true)) }, true},
		{"node -> external 80", func() error { return b.node.ProbeTCP(netip.AddrPortFrom(External.V4, 80), probeTimeout(true)) }, true},
		{"node -> external 81", func() error { return b.node.ProbeTCP(netip.AddrPortFrom(External.V4, 81), probeTimeout(false)) }, false},
		{"pod -> external 81 (forwarded)", func() error { return b.pods[pod].ProbeTCP(netip.AddrPortFrom(External.V4, 81), probeTimeout(true)) }, true},
	} {
		if err := p.send(); (err == nil) != p.allowed {
			t.Errorf("%s: allowed=%v, want %v (%v)", p.name, err == nil, p.allowed, err)
		}
	}
}

func probeTimeout(allowed bool) time.Duration {
	if allowed {
		return allowTimeout
	}
	return denyTimeout
}
