// Package ipam hands out pod addresses from IP pools the way Calico does: pools are cut
// into blocks (default /26 and /122), each node claims blocks with affinity and
// allocates from its own blocks, and every allocation carries a handle so that release
// is exact.
//
// In: IPPool and IPReservation objects and the IPAM state (IPAMBlock, BlockAffinity,
// IPAMHandle of package api/v3) from a Store, plus requests (AssignArgs, a handle to
// release, an address to release). Out: assigned host prefixes (Assignment), the
// updated IPAM objects written back to the Store with compare-and-swap on their
// resourceVersion, a consistency report (Check) and usage figures (Usage).
//
// The block arithmetic and the decisions (which pool, which block, which ordinal) are
// pure functions over the stored objects (block.go, pool.go, carve.go); only the Store
// implementations touch the outside world: MemoryStore (tests, benchmarks), FileStore
// (YAML files under a directory, flock + atomic rename, for the single-host mode) and
// KubernetesStore (projectcalico.org/v3 CRDs). Every write is a compare-and-swap; a
// conflict makes the allocator re-read and retry, so two nodes (or two processes on one
// host) never hand out one address twice.
package ipam
