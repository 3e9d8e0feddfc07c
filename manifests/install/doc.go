// Package install renders manifests/palisade.yaml, the one file users install Palisade
// with (`kubectl apply -f manifests/palisade.yaml`).
//
// In: the projectcalico.org/v3 CRDs and the admission policy embedded by package
// manifests/crds, and base.yaml (ServiceAccounts, RBAC, the palisade-config ConfigMap,
// the palisade-node DaemonSet and the palisade-controllers Deployment) with the image
// filled in. Out: one multi-document YAML, CRDs first so that `kubectl apply` can
// create them before anything that uses them.
//
// `go run ./manifests/install/gen` writes manifests/palisade.yaml; a test in this
// package fails while the file differs from what Render returns, so the CRDs in the
// install file cannot drift from api/v3.
package install
