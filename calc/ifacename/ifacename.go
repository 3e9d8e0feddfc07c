// Package ifacename computes the host-side interface name of a pod's veth, the way
// Calico does, so the CNI plugin (which creates the interface) and the calculation
// graph (which writes rules for it) agree on it.
//
// In: a pod's namespace and name. Out: "cali" followed by the first 11 hex
// characters of SHA-1("<namespace>.<pod>"), 15 characters in all (the kernel's
// IFNAMSIZ limit minus the terminating NUL).
package ifacename

import (
	"crypto/sha1"
	"encoding/hex"
)

// Prefix starts every workload interface name.
const Prefix = "cali"

// hashChars is how many hex characters of the hash follow the prefix.
const hashChars = 11

// Workload returns the host-side interface name for pod name in namespace.
func Workload(namespace, name string) string {
	sum := sha1.Sum([]byte(namespace + "." + name))
	return Prefix + hex.EncodeToString(sum[:])[:hashChars]
}
