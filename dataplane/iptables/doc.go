// Package iptables is Palisade's iptables policy dataplane: it keeps `cali-`-prefixed
// chains of the filter table (IPv4 and IPv6) and `cali40`/`cali60` ipsets equal to the
// desired state of package dataplane, next to whatever else the host has in its tables,
// plus the nat table's cali-nat-outgoing chain while IP pools have natOutgoing.
//
// In: dataplane.Update batches (sets, policies, profiles, endpoints, config) through
// (*Dataplane).Apply, and periodic (*Dataplane).Resync calls. Out: `ipset restore` and
// `iptables-restore --noflush` / `ip6tables-restore --noflush` runs (one atomic
// transaction per table and family), with the backend (legacy or nft) the host uses;
// Stats and LastBatch for tests and metrics.
//
// Two layers:
//
//   - Render (render.go, rules.go, names.go, text.go, ipset.go, nat.go) is pure: desired state
//     in, plain-value chains and sets out, printed as iptables-restore and ipset restore
//     input (the golden files' format). It imports nothing that touches the kernel.
//     Checking a rule and splitting it per family come from package dataplane/desired,
//     shared with the nftables backend.
//   - Apply (apply.go, members.go, plan.go, quarantine.go, kernel.go,
//     save.go, resync.go) folds Updates into a desired.State (the desired state, which
//     policies use which set, and what is dirty; shared with the nftables backend),
//     keeps what it last programmed, renders only dirty objects and writes only chains
//     whose rules changed.
//
// Chains (filter table, both families):
//
//	INPUT   → cali-INPUT     not from cali*: -g cali-from-host-endpoint;
//	                         from cali*: ND/MLD (v6); ct est/rel accept, invalid drop; egress policy, then EndpointToHostAction
//	FORWARD → cali-FORWARD   non-workload traffic returns untouched; ct est/rel accept, invalid drop;
//	                         -i cali+ → cali-from-wl-dispatch; -o cali+ → cali-to-wl-dispatch; accept if allowed
//	OUTPUT  → cali-OUTPUT    host to its workloads: returns (allowed); else -g cali-to-host-endpoint
//	cali-from-wl-dispatch    -i <iface> -g cali-fw-<iface> per endpoint; unknown cali* → DROP
//	cali-to-wl-dispatch      -o <iface> -g cali-tw-<iface>; unknown → DROP
//	cali-fw-/cali-tw-<iface> tiers in order, then profiles, then DROP
//	cali-from-host-endpoint  -i <iface> -g cali-fh-<iface> per host endpoint; other interfaces return untouched
//	cali-to-host-endpoint    -o <iface> -g cali-th-<iface>
//	cali-fh-/cali-th-<iface> host endpoint ingress/egress (host.go): ct est/rel and ND/MLD accept,
//	                         cali-failsafe-in/-out (Config's failsafe ports), tiers, profiles, DROP
//	cali-pi-/cali-po-<pol>   per policy and direction, shared by every endpoint using it
//	cali-pri-/cali-pro-<id>  per profile and direction
//	POSTROUTING (nat) → cali-nat-outgoing  to a pool: return; from a natOutgoing pool: MASQUERADE
//
// In iptables an ACCEPT ends the whole hook, so a policy's Allow cannot accept: it sets
// the accept mark bit and returns. The endpoint chain returns as soon as the bit is
// set; cali-FORWARD clears it between the sender's egress and the receiver's ingress
// chain, so both must allow, and accepts at the end. Pass sets the pass bit and
// returns; the endpoint chain then skips the rest of the tier. Deny is a DROP.
//
// Every rule carries a comment "palisade:<hash>", the hash of its own text chained with
// the previous rule's hash. Reading iptables-save back, a chain whose hash list equals
// the one we would write is left alone: after a restart nothing is rewritten, and a
// resync finds exactly the chains someone changed. A resync also reads our ipsets
// back (`ipset save`) and swaps in the desired content of any set whose entries differ. Our jumps from the built-in chains
// carry "palisade:jump" and are kept at position 1.
//
// The backend (legacy or nft) is the host's: kubelet's hint chains decide, else the
// one holding more rules of other software (as kube-proxy's iptables-wrapper does);
// our chains and jumps left in the other backend are removed on the first batch. A
// policy whose rules iptables-restore rejects is programmed as a single DROP
// (Stats.Quarantined) and the rest of the batch goes in.
package iptables
