// Package resource reads Kubernetes and Calico objects from files, directories and
// stdin, strictly.
//
// In: paths (files, directories walked recursively for *.yaml, *.yml and *.json in
// sorted order, or "-" for stdin) or raw bytes, each holding one or more YAML
// documents ("---" separated) or a stream of JSON objects, including `kind: List`
// wrappers whose items are unpacked.
//
// Out: typed objects ([]Object, each a runtime.Object with the Location it came from):
// core/v1 Namespace, Pod, ServiceAccount and Node; networking.k8s.io/v1 NetworkPolicy;
// every projectcalico.org/v3 kind of package api/v3, and the same kinds written in the
// legacy crd.projectcalico.org/v1 group, decoded into the v3 types (their apiVersion is
// rewritten to projectcalico.org/v3; the original group stays in Location.APIVersion).
//
// Decoding is strict: unknown kinds, unknown fields, duplicate fields, missing names
// and invalid policy fields are errors. Every error is an *Error that names the file,
// the document (1-based index among the non-empty documents, plus kind and namespace/name when known) and the field
// path, for example
//
//	policies.yaml: document 2 (NetworkPolicy production/allow-tcp-6379): spec.ingress[0].destination.ports[0]: port 70000 out of range
//
// Loading reports all the errors it finds (joined), not only the first. Nothing here
// touches the network or the clock; garbage input gives an error, never a panic.
package resource
