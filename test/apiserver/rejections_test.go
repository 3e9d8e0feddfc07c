package apiserver

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/palisadenet/palisade/manifests/crds/crdtest"
	"github.com/palisadenet/palisade/test/controlplane"
)

// badObjectCase is one object the apiserver must reject at apply time. The template is
// applied twice: with good (must be accepted, proving the rest of the object is valid and
// the CRD is served) and with bad (must be rejected naming field).
type badObjectCase struct {
	name     string
	template string // YAML with NAME and VALUE placeholders
	good     string
	bad      string
	field    string // field path the rejection must name
}

const ipPoolV3 = `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: NAME
spec:
`

const networkPolicyV3 = `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: NAME
  namespace: default
spec:
  selector: role == 'db'
`

var badObjects = []badObjectCase{
	{
		name:     "IPPool cidr /33",
		template: ipPoolV3 + "  cidr: VALUE\n",
		good:     "10.0.0.0/16", bad: "10.0.0.0/33",
		field: "spec.cidr",
	},
	{
		name:     "IPPool blockSize 33",
		template: ipPoolV3 + "  cidr: 10.1.0.0/16\n  blockSize: VALUE\n",
		good:     "32", bad: "33",
		field: "spec.blockSize",
	},
	{
		name:     "IPPool IPv4 blockSize 19",
		template: ipPoolV3 + "  cidr: 10.2.0.0/16\n  blockSize: VALUE\n",
		good:     "20", bad: "19",
		field: "spec.blockSize",
	},
	{
		name:     "IPPool IPv6 blockSize 115",
		template: ipPoolV3 + "  cidr: fd00:10::/48\n  blockSize: VALUE\n",
		good:     "116", bad: "115",
		field: "spec.blockSize",
	},
	{
		name:     "IPPool ipipMode Sometimes",
		template: ipPoolV3 + "  cidr: 10.3.0.0/16\n  ipipMode: VALUE\n",
		good:     "CrossSubnet", bad: "Sometimes",
		field: "spec.ipipMode",
	},
	{
		name:     "IPPool vxlanMode Maybe",
		template: ipPoolV3 + "  cidr: 10.4.0.0/16\n  vxlanMode: VALUE\n",
		good:     "Always", bad: "Maybe",
		field: "spec.vxlanMode",
	},
	{
		name: "legacy crd.projectcalico.org IPPool blockSize 33",
		template: `apiVersion: crd.projectcalico.org/v1
kind: IPPool
metadata:
  name: NAME
spec:
  cidr: 10.5.0.0/16
  blockSize: VALUE
`,
		good: "26", bad: "33",
		field: "spec.blockSize",
	},
	{
		name:     "NetworkPolicy action Allwo",
		template: networkPolicyV3 + "  ingress:\n  - action: VALUE\n",
		good:     "Allow", bad: "Allwo",
		field: "spec.ingress[0].action",
	},
	{
		name:     "NetworkPolicy port 70000",
		template: networkPolicyV3 + "  ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [VALUE]\n",
		good:     "6379", bad: "70000",
		field: "spec.ingress[0].destination.ports[0]",
	},
	{
		name:     "NetworkPolicy port 0",
		template: networkPolicyV3 + "  ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [VALUE]\n",
		good:     "1", bad: "0",
		field: "spec.ingress[0].destination.ports[0]",
	},
	{
		name:     `NetworkPolicy port range "90:80"`,
		template: networkPolicyV3 + "  ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [VALUE]\n",
		good:     `"80:90"`, bad: `"90:80"`,
		field: "spec.ingress[0].destination.ports[0]",
	},
	{
		name:     `NetworkPolicy port range "80:70000" in notPorts`,
		template: networkPolicyV3 + "  egress:\n  - action: Deny\n    protocol: UDP\n    destination:\n      notPorts: [VALUE]\n",
		good:     `"80:65535"`, bad: `"80:70000"`,
		field: "spec.egress[0].destination.notPorts[0]",
	},
	{
		name:     "NetworkPolicy protocol TCPX",
		template: networkPolicyV3 + "  ingress:\n  - action: Allow\n    protocol: VALUE\n",
		good:     "TCP", bad: "TCPX",
		field: "spec.ingress[0].protocol",
	},
	{
		name:     "NetworkPolicy icmp type 300",
		template: networkPolicyV3 + "  ingress:\n  - action: Allow\n    protocol: ICMP\n    icmp:\n      type: VALUE\n",
		good:     "8", bad: "300",
		field: "spec.ingress[0].icmp.type",
	},
	{
		name:     "NetworkPolicy notICMP code 256",
		template: networkPolicyV3 + "  egress:\n  - action: Deny\n    protocol: ICMP\n    notICMP:\n      type: 3\n      code: VALUE\n",
		good:     "1", bad: "256",
		field: "spec.egress[0].notICMP.code",
	},
	{
		name: "GlobalNetworkPolicy bad nets CIDR",
		template: `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: NAME
spec:
  selector: all()
  ingress:
  - action: Deny
    source:
      nets: [VALUE]
`,
		good: "10.0.0.0/8", bad: "10.0.0.300/24",
		field: "spec.ingress[0].source.nets[0]",
	},
	{
		name: "BGPPeer asNumber -1",
		template: `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: NAME
spec:
  peerIP: 192.0.2.1
  asNumber: VALUE
`,
		good: "64512", bad: "-1",
		field: "spec.asNumber",
	},
	{
		name: "BGPConfiguration asNumber 4294967296",
		template: `apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: NAME
spec:
  asNumber: VALUE
`,
		good: "4294967295", bad: "4294967296",
		field: "spec.asNumber",
	},
}

// render fills a case's template; names are unique per case and variant.
func (c badObjectCase) render(index int, variant, value string) (name, yaml string) {
	name = fmt.Sprintf("case%02d-%s", index, variant)
	yaml = strings.ReplaceAll(c.template, "NAME", name)
	return name, strings.ReplaceAll(yaml, "VALUE", value)
}

// TestBadObjectsRejectedAtApply applies each bad object with kubectl and requires the
// apiserver to refuse it with an Invalid error naming the field; the same object with a
// good value must be accepted, and the bad one must not have been stored.
func TestBadObjectsRejectedAtApply(t *testing.T) {
	cp := startWithCRDs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	for i, c := range badObjects {
		t.Run(c.name, func(t *testing.T) {
			_, good := c.render(i, "good", c.good)
			if _, err := cp.Kubectl(ctx, strings.NewReader(good), "apply", "-f", "-"); err != nil {
				t.Fatalf("the same object with %s=%s must be accepted: %v\n%s", c.field, c.good, err, good)
			}
			_, bad := c.render(i, "bad", c.bad)
			msg := requireRejected(ctx, t, cp, bad, c.field)
			t.Logf("rejected: %s", msg)
		})
	}
	// The table the CRD package checks offline must hold against the real apiserver too,
	// in both API groups.
	groups := map[string]string{"v3": "projectcalico.org/v3", "legacy": "crd.projectcalico.org/v1"}
	for _, set := range []string{"v3", "legacy"} {
		for i, c := range crdtest.BadObjects() {
			t.Run("shared/"+set+"/"+c.Name, func(t *testing.T) {
				obj := strings.Replace(c.YAML, "apiVersion: projectcalico.org/v3", "apiVersion: "+groups[set], 1)
				obj = metadataName.ReplaceAllString(obj, fmt.Sprintf("${1}shared-%s-%02d", set, i))
				msg := requireRejected(ctx, t, cp, obj, c.Field)
				if !strings.Contains(msg, c.Message) {
					t.Errorf("rejection does not say %q: %s", c.Message, msg)
				}
			})
		}
	}
}

// metadataName finds the object's name, to make each shared case's name unique (a
// wrongly accepted object must not turn later cases into updates).
var metadataName = regexp.MustCompile(`(?m)^(  name: )\S+$`)

// requireRejected applies obj and requires an Invalid error that names field, and that
// nothing was stored. It returns the apiserver's message.
func requireRejected(ctx context.Context, t *testing.T, cp *controlplane.ControlPlane, obj, field string) string {
	t.Helper()
	_, err := cp.Kubectl(ctx, strings.NewReader(obj), "apply", "-f", "-")
	var kerr *controlplane.KubectlError
	if !errors.As(err, &kerr) {
		t.Fatalf("apply: err = %v, want a rejection naming %s\n%s", err, field, obj)
	}
	msg := strings.TrimSpace(kerr.Stderr)
	if !strings.Contains(msg, "is invalid") {
		t.Errorf("rejection is not an Invalid error: %s", msg)
	}
	if !namesField(msg, field) {
		t.Errorf("rejection does not name field %s: %s", field, msg)
	}
	if _, err := cp.Kubectl(ctx, strings.NewReader(obj), "get", "-f", "-"); err == nil ||
		!strings.Contains(err.Error(), "NotFound") {
		t.Errorf("rejected object was stored (kubectl get: %v)", err)
	}
	return msg
}

// namesField reports whether msg blames path itself: "path: <reason>". A deeper path
// (path.sub:) or a prefix of another field (path2:) does not count.
func namesField(msg, path string) bool {
	return strings.Contains(msg, path+": ") || strings.Contains(msg, path+"\n") ||
		strings.HasSuffix(msg, path)
}
