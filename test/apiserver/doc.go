// Package apiserver holds the acceptance tests of the API against a real kube-apiserver
// (started by test/controlplane): the project's CRDs installed from manifests/crds, the
// users' example YAML (../shared/examples) applied with kubectl and round-tripped through
// the Go types of api/v3, and bad objects rejected at apply time with the offending field
// named. It has no non-test code; everything is in the _test.go files.
package apiserver
