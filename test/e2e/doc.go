// Package e2e is the cluster end-to-end test: a real kube-apiserver and etcd, three
// nodes as network namespaces on a bridge, each running the built palisade-node
// against the apiserver (DATASTORE_TYPE=kubernetes), and pods created through the
// API, bound with spec.nodeName and plumbed by running the built palisade-cni the way
// kubelet does (CNI_* environment, the conflist entry on stdin).
//
// In (tests only): the repository's binaries (built into a temporary directory), the
// CRDs in manifests/crds/v3, the conflist in manifests/cni, the policy
// ../shared/examples/allow-tcp-6379.yaml and the policies under testdata/. Out: pass,
// or which probe disagreed with the reference evaluator (policy/eval via ctl/offline),
// plus the measured policy propagation latency and the loss counted while agents
// restart, in the test log. docs/e2e.md says how to run it and what it measured.
//
// The test needs root (namespaces, nftables), etcd, kubectl and a kube-apiserver
// (built once by test/controlplane); it skips with the reason when one is missing, and
// in -short mode. The package has no non-test code.
package e2e
