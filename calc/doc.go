// Package calc is the calculation graph: it turns datastore events into the exact
// desired state of one node's policy dataplane, incrementally.
//
// In: batches of datastore.Updates (typed objects keyed by kind, namespace and name:
// Pods, Namespaces, ServiceAccounts, Kubernetes and Calico NetworkPolicies,
// GlobalNetworkPolicies, Tiers, NetworkSets, GlobalNetworkSets, HostEndpoints,
// FelixConfiguration)
// and the in-sync mark, through Graph.Apply and Graph.InSync.
//
// Out: dataplane.Updates (package dataplane) describing, for the node named in New:
//
//   - local endpoints: pods on the node that have IPs, with their interface name
//     (package ifacename), addresses, and per direction the ordered tiers and
//     policies that select them, plus the namespace profile as fallback; and the
//     node's HostEndpoints the same way, with their spec.profiles as fallback;
//   - every policy that selects at least one local endpoint ("active"), with rules
//     translated to dataplane.Rules whose selectors and named ports are set IDs;
//   - every IP set those rules use, with exact members cluster-wide: endpoint
//     addresses and NetworkSet / GlobalNetworkSet CIDRs for selectors, and
//     (address, protocol, port) triples for named ports; members and sets are
//     reference-counted, so shared members and shared selectors stay exact;
//   - the profiles local endpoints name: namespace profiles (allow all) and the
//     built-in profiles host endpoints may name (profiles.go: default-allow, kns.*,
//     ksa.*; any other name is a missing profile and denies, as in Calico);
//   - the node's Config: endpoint-to-host action and failsafe ports, each setting
//     from FelixConfiguration node.<name>, else default, else the defaults.
//
// The Updates of one Apply are coalesced (what appeared and vanished within the
// batch emits nothing; a set's changes become one delta) and ordered so that applying
// them in sequence never leaves a dangling reference: set creations and deltas, then
// profiles and policies, then endpoint updates, then endpoint, policy, profile and
// set removals. Package desired checks that contract.
//
// Work per event is proportional to what the event changes, not to the cluster:
// a label index (index.go) keeps the match relation between selectors and labelled
// items, bucketing selectors by a required `key == "value"` conjunct.
//
// Bad input never stops the graph. A policy that fails validation is logged with its
// object and field paths, listed by Status, and replaced by a deny-all policy in the
// same tier and position, in the directions it declares, applying to the endpoints
// its selector picks (or, when the selector itself is broken, to every endpoint of its
// namespace, or of the cluster for a global policy): its endpoints fail closed, its
// valid neighbours keep working.
//
// The package is pure: no kernel, network or clock. The zap logger is passed in. A
// Graph is not safe for concurrent use; one goroutine owns it. Emitted Updates share
// memory with the graph (it compares them with the next version): consumers must
// treat them as read-only.
package calc
