package ipam

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"
)

// maxNameLen is Kubernetes' limit for object names (DNS subdomain).
const maxNameLen = 253

// BlockName is the object name Calico gives the IPAMBlock of cidr: the CIDR with ".",
// ":" and "/" replaced by "-" (10.244.1.0/26 → 10-244-1-0-26). Existing clusters'
// blocks are found by this name, so it must not change.
func BlockName(cidr netip.Prefix) string {
	return strings.NewReplacer(".", "-", ":", "-", "/", "-").Replace(cidr.Masked().String())
}

// AffinityName is the object name of the BlockAffinity tying node to cidr:
// "<node>-<block name>", shortened with a hash suffix when too long for Kubernetes.
func AffinityName(node string, cidr netip.Prefix) string {
	return boundedName(node + "-" + BlockName(cidr))
}

// HandleName is the object name of the IPAMHandle for handle ID: the ID lower-cased
// when it is a valid object name, otherwise a readable prefix plus a hash. The ID itself
// is kept in spec.handleID.
func HandleName(handleID string) string {
	lower := strings.ToLower(handleID)
	if validObjectName(lower) && lower == handleID {
		return lower
	}
	return hashedName(sanitize(lower), handleID)
}

func boundedName(name string) string {
	if len(name) <= maxNameLen && validObjectName(name) {
		return name
	}
	return hashedName(sanitize(strings.ToLower(name)), name)
}

// hashedName keeps up to 200 characters of prefix and appends 16 hex digits of the
// SHA-256 of the original, so different inputs never share a name.
func hashedName(prefix, original string) string {
	sum := sha256.Sum256([]byte(original))
	if len(prefix) > 200 {
		prefix = prefix[:200]
	}
	prefix = strings.Trim(prefix, "-.")
	if prefix == "" {
		prefix = "h"
	}
	return prefix + "-" + hex.EncodeToString(sum[:8])
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if isNameChar(r) {
			return r
		}
		return '-'
	}, s)
}

func isNameChar(r rune) bool {
	return (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' || r == '.'
}

// validObjectName reports whether s is a DNS-1123 subdomain (what cluster-scoped custom
// objects must be named), which also makes it a safe file name.
func validObjectName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !isNameChar(r) || r == '.' {
				return false
			}
		}
	}
	return true
}
