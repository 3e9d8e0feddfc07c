// Package nftables is Palisade's nftables policy dataplane: it keeps one table,
// `inet palisade`, equal to the desired state of package dataplane.
//
// In: dataplane.Update batches (sets, policies, profiles, workload and host endpoints,
// config, outgoing NAT) through
// (*Dataplane).Apply, and periodic (*Dataplane).Resync calls. Out: netlink
// transactions (github.com/google/nftables, no nft binary), one atomic Conn.Flush per
// batch, plus OpCounts and Stats for tests and metrics.
//
// The package has two layers:
//
//   - Render (render.go, rules.go, text.go, ir.go) is pure: from a State or from single
//     objects it builds a plain-value Table of chains, typed rule matches, sets and
//     verdict maps, and prints it in nft syntax (the golden files' format). It imports
//     nothing that touches the kernel. Checking a rule and splitting it per family
//     come from package dataplane/desired, shared with the iptables backend.
//   - Apply (apply.go, members.go, plan.go, netlink.go, resync.go) folds Updates into a
//     desired.State (the desired state, which policies use which set, and what is
//     dirty; shared with the iptables backend), keeps what it last programmed, renders
//     only dirty objects, diffs them and sends the
//     difference: a set-member change is element operations only, a new endpoint adds
//     its two chains and two map entries, a changed policy flushes and refills its chain.
//
// Shape of the table (see docs/architecture.md, "nftables dataplane"):
//
//	forward-egress  (forward, filter+10)  non-cali* → accept; ct est/rel → accept; ct invalid → drop;
//	                                      iifname vmap @from-wl; unknown cali* → drop
//	forward-ingress (forward, filter+11)  the same on oifname with @to-wl
//	input           (input,   filter+10)  from cali*: IPv6 ND accepted; egress policy, then EndpointToHostAction;
//	                                      other interfaces → host-input
//	output          (output,  filter+10)  host → local workloads accepted; other interfaces → host-output
//	host-input, host-output               ct est/rel, IPv6 ND, failsafe ports, then iifname vmap @to-host /
//	                                      oifname vmap @from-host (host endpoints: hto-<iface>, hfrom-<iface>)
//	nat-postrouting (postrouting, srcnat) natOutgoing pools → outside every pool: masquerade (only if any)
//	from-<iface>, to-<iface>              per endpoint: tiers in order, then profiles, then drop
//	pi-<hash>, po-<hash>                  per policy and direction, shared by all endpoints
//	ri-<hash>, ro-<hash>                  per profile and direction
//	s4-/s6-<hash>, n4-/n6-<hash>          IP sets and named-port sets, per family
//
// Allow is a plain accept: it ends only the base chain it was reached from, so a
// forwarded packet accepted by the sender's egress chain still meets the receiver's
// ingress chain (a separate base chain one priority step later). Pass returns with a
// packet-mark bit set, which makes the endpoint chain skip the rest of the tier.
package nftables
