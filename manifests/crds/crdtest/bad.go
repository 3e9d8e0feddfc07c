// Package crdtest holds the objects the generated CRDs must reject, shared by the local
// schema tests (manifests/crds) and the real-apiserver tests (test/controlplane).
//
// In: nothing. Out: a table of bad objects, each with the field path the rejection must
// name and a fragment of the message.
package crdtest

// BadObject is one object the apiserver must refuse at create time.
type BadObject struct {
	// Name says what is wrong, for test names.
	Name string
	// YAML is the object (projectcalico.org/v3).
	YAML string
	// Field is the field path the error must name, e.g. "spec.cidr".
	Field string
	// Message is a fragment the error text must contain.
	Message string
	// Admission is set when the CRD schema cannot reject the object on every supported
	// apiserver and the ValidatingAdmissionPolicy in manifests/crds/admission does
	// (a range "90:80": see api/v3/numorstring.go). Its error names the field in the
	// message text rather than as a structured field path.
	Admission bool
}

const policyHead = `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: bad
  namespace: default
spec:
  selector: all()
`

const poolHead = `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: bad
spec:
`

const peerHead = `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: bad
spec:
`

// BadObjects returns the table. Every entry is rejected by the schema in
// manifests/crds/v3 (and, with the apiVersion rewritten, by the legacy set).
func BadObjects() []BadObject {
	return []BadObject{
		{"pool cidr /33", poolHead + "  cidr: 10.0.0.0/33\n", "spec.cidr", "cidr must be a valid", false},
		{"pool cidr not an address", poolHead + "  cidr: banana\n", "spec.cidr", "cidr must be a valid", false},
		{"pool blockSize 33", poolHead + "  cidr: 10.0.0.0/16\n  blockSize: 33\n", "spec.blockSize", "blockSize must be 20-32", false},
		{"pool blockSize 19", poolHead + "  cidr: 10.0.0.0/16\n  blockSize: 19\n", "spec.blockSize", "greater than or equal to 20", false},
		{"pool IPv6 blockSize 64", poolHead + "  cidr: fd00::/48\n  blockSize: 64\n", "spec.blockSize", "116-128", false},
		{"pool blockSize larger than cidr", poolHead + "  cidr: 10.0.0.0/26\n  blockSize: 24\n", "spec.blockSize", "prefix length", false},
		{"pool ipipMode Sometimes", poolHead + "  cidr: 10.0.0.0/16\n  ipipMode: Sometimes\n", "spec.ipipMode", "Unsupported value", false},
		{"pool vxlanMode always (lower case)", poolHead + "  cidr: 10.0.0.0/16\n  vxlanMode: always\n", "spec.vxlanMode", "Unsupported value", false},
		{"pool ipip and vxlan both on", poolHead + "  cidr: 10.0.0.0/16\n  ipipMode: Always\n  vxlanMode: Always\n", "spec.vxlanMode", "cannot both be enabled", false},
		{"pool without cidr", poolHead + "  natOutgoing: true\n", "spec.cidr", "Required value", false},
		{"policy action Allwo", policyHead + "  ingress:\n  - action: Allwo\n", "spec.ingress[0].action", "Unsupported value", false},
		{"policy rule without action", policyHead + "  egress:\n  - protocol: TCP\n", "spec.egress[0].action", "Required value", false},
		{"policy port 70000", policyHead + "  ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [70000]\n", "spec.ingress[0].destination.ports[0]", "should be less than or equal to 65535", false},
		{"policy port 0", policyHead + "  ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [0]\n", "spec.ingress[0].destination.ports[0]", "should be greater than or equal to 1", false},
		{"policy port range 90:80", policyHead + "  ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [\"90:80\"]\n", "spec.ingress[0].destination.ports[0]", "min > max", true},
		{"policy port range to 70000", policyHead + "  egress:\n  - action: Allow\n    protocol: UDP\n    source:\n      notPorts: [\"1000:70000\"]\n", "spec.egress[0].source.notPorts[0]", "should match", false},
		{"policy port name with space", policyHead + "  ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [\"my port\"]\n", "spec.ingress[0].destination.ports[0]", "should match", false},
		{"policy protocol TCPP", policyHead + "  ingress:\n  - action: Allow\n    protocol: TCPP\n", "spec.ingress[0].protocol", "should match '^(TCP|UDP|ICMP|ICMPv6|SCTP|UDPLite)$'", false},
		{"policy protocol 256", policyHead + "  ingress:\n  - action: Allow\n    notProtocol: 256\n", "spec.ingress[0].notProtocol", "should be less than or equal to 255", false},
		{"policy ipVersion 5", policyHead + "  ingress:\n  - action: Allow\n    ipVersion: 5\n", "spec.ingress[0].ipVersion", "Unsupported value", false},
		{"policy icmp type 300", policyHead + "  ingress:\n  - action: Allow\n    protocol: ICMP\n    icmp:\n      type: 300\n", "spec.ingress[0].icmp.type", "less than or equal to 254", false},
		{"policy nets /40", policyHead + "  ingress:\n  - action: Allow\n    source:\n      nets: [10.0.0.0/40]\n", "spec.ingress[0].source.nets[0]", "nets entries must be valid CIDRs", false},
		{"policy types Sideways", policyHead + "  types: [Sideways]\n", "spec.types[0]", "Unsupported value", false},
		{"global policy preDNAT with egress", "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: bad\nspec:\n  preDNAT: true\n  applyOnForward: true\n  egress:\n  - action: Allow\n", "spec.egress", "preDNAT policy cannot have egress", false},
		{"tier defaultAction Allow", "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: bad\nspec:\n  defaultAction: Allow\n", "spec.defaultAction", "defaultAction must be Deny or Pass", false},
		{"global network set bad net", "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: bad\nspec:\n  nets: [300.1.1.0/24]\n", "spec.nets[0]", "nets entries must be valid", false},
		{"bgp peer asNumber -1", peerHead + "  peerIP: 10.0.0.1\n  asNumber: -1\n", "spec.asNumber", "should be greater than or equal to 0", false},
		{"bgp peer asNumber 2^32", peerHead + "  peerIP: 10.0.0.1\n  asNumber: 4294967296\n", "spec.asNumber", "should be less than or equal to 4294967295", false},
		{"bgp peer asNumber dotted 1.70000", peerHead + "  peerIP: 10.0.0.1\n  asNumber: \"1.70000\"\n", "spec.asNumber", "should match", false},
		{"bgp peer peerIP not an address", peerHead + "  peerIP: router.example\n  asNumber: 64512\n", "spec.peerIP", "peerIP must be an IP address", false},
		{"bgp peer peerIP port 0", peerHead + "  peerIP: 10.0.0.1:0\n  asNumber: 64512\n", "spec.peerIP", "peerIP must be an IP address", false},
		{"bgp peer node and nodeSelector", peerHead + "  node: a\n  nodeSelector: all()\n  peerIP: 10.0.0.1\n  asNumber: 64512\n", "spec.nodeSelector", "cannot both be set", false},
		{"bgp peer ttlSecurity 300", peerHead + "  peerIP: 10.0.0.1\n  asNumber: 64512\n  ttlSecurity: 300\n", "spec.ttlSecurity", "less than or equal to 255", false},
		{"bgp config listenPort 70000", "apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata:\n  name: default\nspec:\n  listenPort: 70000\n", "spec.listenPort", "less than or equal to 65535", false},
		{"bgp config asNumber -5", "apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata:\n  name: default\nspec:\n  asNumber: -5\n", "spec.asNumber", "should be greater than or equal to 0", false},
		{"felix iptablesBackend Foo", "apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata:\n  name: default\nspec:\n  iptablesBackend: Foo\n", "spec.iptablesBackend", "Unsupported value", false},
		{"felix vxlanVNI 0", "apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata:\n  name: default\nspec:\n  vxlanVNI: 0\n", "spec.vxlanVNI", "greater than or equal to 1", false},
		{"felix routeRefreshInterval prose", "apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata:\n  name: default\nspec:\n  routeRefreshInterval: 10 seconds\n", "spec.routeRefreshInterval", "should match", false},
		{"block affinity state bogus", "apiVersion: projectcalico.org/v3\nkind: BlockAffinity\nmetadata:\n  name: bad\nspec:\n  state: bogus\n  node: a\n  cidr: 10.0.0.0/26\n", "spec.state", "Unsupported value", false},
	}
}
