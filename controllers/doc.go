// Package controllers is palisade-controllers: cluster-wide housekeeping that runs in
// one leader-elected replica.
//
// Today that is IPAM garbage collection. In: the IPAM state (IPAMBlocks and
// BlockAffinities from a routing/ipam Store), the pods and nodes that exist (Cluster)
// and the time (an injected clock). Out: addresses released by handle through the
// ipam Allocator (the handle of a pod that is gone), empty blocks and affinities of
// deleted nodes deleted with compare-and-swap, and a Report of each scan (what was
// released, deleted, kept and why), which is also logged.
//
// The decisions are pure (plan.go: Inventory + what earlier scans saw + now → Plan);
// gc.go executes a Plan against the store and the cluster, re-checking right before
// each release that the owner is still gone. Safety rules:
//   - an address is released only when its owner (the pod, or for addresses without a
//     pod, such as tunnel addresses, the node) was missing in two scans at least the
//     grace period apart, and is still missing when re-checked just before release;
//   - an address whose pod exists is never released;
//   - release is by handle, never by address, so an address freed and handed to a new
//     pod in the meantime is never taken from it;
//   - a block of a deleted node is deleted only while it holds no address; blocks
//     still holding addresses are kept and reported.
//
// leader.go runs a function only while this replica holds the Lease.
package controllers
