// Package truthtable holds the policy truth-table suite, modelled on the upstream
// Kubernetes network-policy e2e model: namespaces x, y and z (labels ns=<name>), pods
// a, b and c in each (labels pod=<name>) serving ports 80 and 81 over TCP and UDP on
// named container ports (testdata/world.yaml).
//
// In (tests only): per scenario, Kubernetes NetworkPolicies and projectcalico.org/v3
// resources as YAML, a protocol and a port, and the expected 9×9 matrix written by
// hand from the scenario's meaning. The scenarios run through the same code path as
// `palisadectl policy matrix` (package resource → ctl/offline → policy/eval), and a
// few through the CLI itself, comparing its exact JSON. Out: pass or a cell-by-cell
// diff. The package has no non-test code.
package truthtable
