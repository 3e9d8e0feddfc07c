package scenarios

import (
	"net/netip"
	"testing"

	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/resource"
)

// TestHostEndpointProfilesAndFailsafeThroughCalc: manifests through calc into the
// nftables dataplane, judged by real traffic on the node's eth9, one change at a
// time (incremental Apply, no reset):
//  1. a host endpoint no policy selects and with no profiles denies all but the
//     default failsafe ports (SSH open);
//  2. FelixConfiguration failsafeInboundHostPorts reprograms them: SSH closes, the
//     listed port opens;
//  3. the projectcalico-default-allow profile opens the endpoint both ways;
//  4. a missing service-account profile named first denies before default-allow is
//     reached (Calico resolves a missing profile to deny-all); failsafe still holds.
func TestHostEndpointProfilesAndFailsafeThroughCalc(t *testing.T) {
	b := newBench(t)
	for _, port := range []uint16{8080, 8081, 22} {
		b.node.Listen(t, port)
	}
	ext := b.pods[ExternalIndex]
	apply := func(manifests string) {
		t.Helper()
		objs, err := resource.Decode("step.yaml", []byte(manifests))
		if err != nil {
			t.Fatal(err)
		}
		var batch []datastore.Update
		for _, o := range objs {
			u, err := datastore.UpdateOf(o.Obj)
			if err != nil {
				t.Fatal(err)
			}
			batch = append(batch, u)
		}
		if err := b.dp.Apply(append(b.graph.Apply(batch), b.graph.InSync()...)); err != nil {
			t.Fatal(err)
		}
	}
	hep := func(profiles string) string {
		return `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node1-eth9}
spec: {node: node1, interfaceName: eth9, expectedIPs: ["192.168.0.1"], profiles: ` + profiles + `}
`
	}
	type probe struct {
		name    string
		in      bool // external -> node, else node -> external
		port    uint16
		allowed bool
	}
	check := func(step string, probes ...probe) {
		t.Helper()
		for _, p := range probes {
			var err error
			if p.in {
				err = ext.ProbeTCP(netip.AddrPortFrom(netip.MustParseAddr("192.168.0.1"), p.port), probeTimeout(p.allowed))
			} else {
				err = b.node.ProbeTCP(netip.AddrPortFrom(External.V4, p.port), probeTimeout(p.allowed))
			}
			if (err == nil) != p.allowed {
				t.Errorf("%s: %s: allowed=%v, want %v (%v)", step, p.name, err == nil, p.allowed, err)
			}
		}
	}
	inbound := func(port uint16, allowed bool) probe { return probe{"external -> node", true, port, allowed} }
	outbound := func(port uint16, allowed bool) probe { return probe{"node -> external", false, port, allowed} }

	apply(hep("[]"))
	check("no policy, no profile", inbound(8080, false), inbound(22, true), inbound(8081, false), outbound(80, false))

	apply(`apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: default}
spec: {failsafeInboundHostPorts: [{protocol: TCP, port: 8081}]}
`)
	check("failsafe inbound [8081]", inbound(22, false), inbound(8081, true), inbound(8080, false))

	apply(hep("[projectcalico-default-allow]"))
	check("default-allow profile", inbound(8080, true), inbound(22, true), outbound(80, true))

	apply(hep("[ksa.ops.missing, projectcalico-default-allow]"))
	check("missing profile first", inbound(8080, false), inbound(8081, true), outbound(80, false))
	if err := checkCalc(b.graph); err != nil {
		t.Errorf("known profile names reported invalid: %v", err)
	}
}
