package iptables

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/desired"
)

// Family is an IP family: 4 or 6.
type Family = desired.Family

// The two families.
const (
	IPv4 = desired.IPv4
	IPv6 = desired.IPv6
)

// Families lists both families in rendering order.
var Families = []Family{IPv4, IPv6}

// Fixed chain names.
const (
	ChainForward          = "cali-FORWARD"
	ChainInput            = "cali-INPUT"
	ChainOutput           = "cali-OUTPUT"
	ChainFromWorkload     = "cali-from-wl-dispatch"
	ChainToWorkload       = "cali-to-wl-dispatch"
	ChainPrefix           = "cali-"
	WorkloadIfaceWildcard = "cali+"
	// CommentPrefix starts every comment we write; rules are recognised by it.
	CommentPrefix = "palisade:"
	// JumpComment marks our jumps from the built-in chains.
	JumpComment = CommentPrefix + "jump"
)

// maxChainName is the longest chain name iptables accepts (XT_EXTENSION_MAXNAMELEN-1).
const maxChainName = 28

// ChainNATOutgoing masquerades pod traffic leaving the IP pools (nat table).
const ChainNATOutgoing = "cali-nat-outgoing"

// jumpSpec is one of our jumps from the top of a built-in chain.
type jumpSpec struct{ Table, Builtin, Chain string }

// filterJumps are always present; natJump only while natOutgoing pools exist.
var (
	filterJumps = []jumpSpec{
		{"filter", "INPUT", ChainInput},
		{"filter", "FORWARD", ChainForward},
		{"filter", "OUTPUT", ChainOutput},
	}
	natJump = jumpSpec{"nat", "POSTROUTING", ChainNATOutgoing}
	// tables we write, in restore order.
	tables = []string{"filter", "nat"}
)

// chainTable is the table one of our chains lives in (by its name).
func chainTable(name string) string {
	if strings.HasPrefix(name, "cali-nat-") {
		return "nat"
	}
	return "filter"
}

// jumpsFor is the jumps wanted for a set of chains: the nat jump only with the nat chain.
func jumpsFor(hasNAT bool) []jumpSpec {
	if hasNAT {
		return append(filterJumps[:len(filterJumps):len(filterJumps)], natJump)
	}
	return filterJumps
}

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// hashName is a stable name component of n characters.
func hashName(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return b32.EncodeToString(sum[:])[:n]
}

// chainName is prefix+readable when that fits and uses only characters of Kubernetes
// names (and '/'); otherwise prefix + "_" + a hash. Readable names never contain '_',
// so the two forms cannot collide.
func chainName(prefix, readable string) string {
	if len(prefix)+len(readable) <= maxChainName && readableName(readable) {
		return prefix + readable
	}
	return prefix + "_" + hashName(readable, maxChainName-len(prefix)-1)
}

func readableName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '/') {
			return false
		}
	}
	return true
}

// PolicyChainName is the chain of one direction of a policy: cali-pi-<policy>
// (inbound) or cali-po-<policy>, with <policy> "tier/name" when it fits.
func PolicyChainName(id dataplane.PolicyID, inbound bool) string {
	if inbound {
		return chainName("cali-pi-", id.String())
	}
	return chainName("cali-po-", id.String())
}

// ProfileChainName is the chain of one direction of a profile: cali-pri-<id> or cali-pro-<id>.
func ProfileChainName(id string, inbound bool) string {
	if inbound {
		return chainName("cali-pri-", id)
	}
	return chainName("cali-pro-", id)
}

// EndpointChainName is the endpoint's egress (cali-fw-<iface>) or ingress
// (cali-tw-<iface>) chain. Interface names have at most 15 characters, so it fits.
func EndpointChainName(iface string, ingress bool) string {
	if ingress {
		return "cali-tw-" + iface
	}
	return "cali-fw-" + iface
}

// Set name prefixes: cali40/cali60 for live sets, cali4t/cali6t for the temporary
// copies swapped in by a whole-set update.
const (
	setPrefixLen  = 6
	setHashLength = 20
)

// SetName is the ipset of one family's half of an IP set: cali40/cali60, a kind letter
// (s selector, n named port) and a hash of the ID; 27 characters (ipset allows 31).
func SetName(id string, kind dataplane.SetKind, fam Family) string {
	return fmt.Sprintf("cali%d0%c%s", fam, kindLetter(kind), hashName(id, setHashLength))
}

// tempSetName is the temporary set a whole-set update fills before swapping it in.
func tempSetName(live string) string {
	return live[:5] + "t" + live[setPrefixLen:]
}

// ownSetName reports whether an ipset name is one of ours (live or temporary).
func ownSetName(name string) bool {
	return len(name) == setPrefixLen+1+setHashLength && (strings.HasPrefix(name, "cali40") ||
		strings.HasPrefix(name, "cali60") || strings.HasPrefix(name, "cali4t") || strings.HasPrefix(name, "cali6t"))
}

func kindLetter(k dataplane.SetKind) byte {
	if k == dataplane.SetKindNamedPort {
		return 'n'
	}
	return 's'
}

// ruleHash chains a rule's text to the previous rule's hash: equal hash lists mean
// equal chains, rule for rule.
func ruleHash(prev, chain, body string) string {
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{0})
	h.Write([]byte(chain))
	h.Write([]byte{0})
	h.Write([]byte(body))
	return hex.EncodeToString(h.Sum(nil))[:16]
}
