// Package scenarios generates random policy worlds and checks the whole policy path
// against the reference evaluator on real packets.
//
// In: a seed. Generate returns a World: YAML for three namespaces, up to six pods on
// one node (fixed identities and addresses, random labels and named ports, each
// present or not), optionally a NetworkSet or GlobalNetworkSet, tiers with Deny or
// Pass defaults, and Kubernetes NetworkPolicies, Calico NetworkPolicies and
// GlobalNetworkPolicies with random selectors, notSelectors, namespace selectors,
// nets, ports, named ports, ICMP matches, ipVersion and Allow/Deny/Pass/Log actions.
// Out: nothing but the World; the package is pure.
//
// The tests (as root, with ip and nft) build one node namespace with a pod namespace
// per slot attached by cali* veths, feed each world through calc.Graph into an
// nftables Dataplane programming the node, probe TCP, UDP and ICMP over IPv4 and IPv6
// between the pods and to and from an external peer behind the node, and require
// every verdict to equal policy/eval's for the same world. TestHostEndpointThroughCalc
// checks a HostEndpoint the same way with hand-written expectations (the evaluator
// has no host endpoints). A mismatch prints the seed and the world's YAML, so
//
//	go test ./test/scenarios -run TestScenarios -scenario.seed=N -scenario.count=1
//
// reproduces it.
package scenarios
