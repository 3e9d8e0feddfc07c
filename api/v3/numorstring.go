package v3

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The three types in this file (Port, Protocol, ASNumber) accept either a JSON number or
// a JSON string and remember which one was written, so that a user's YAML re-encodes
// exactly as it came in ("80" stays a string, 80 stays a number).
//
// Their schema markers say `Type=string` plus `XIntOrString` (so controller-gen accepts
// MaxLength and Pattern); hack/crdgen then drops the string type, since an int-or-string
// schema must not have one. String forms are checked by patterns and numbers by CEL rules
// that only compare integers: apiservers before 1.34 cost any string operation on an
// int-or-string value as if it were megabytes long, which no list of rules could afford.

// decodeNumOrString reads a JSON number (integers only) or a JSON string.
func decodeNumOrString(b []byte, what string) (num int64, str string, isStr bool, err error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &str); err != nil {
			return 0, "", false, fmt.Errorf("decoding %s: %w", what, err)
		}
		return 0, str, true, nil
	}
	if err := json.Unmarshal(b, &num); err != nil {
		return 0, "", false, fmt.Errorf("decoding %s %s: must be an integer or a string", what, string(b))
	}
	return num, "", false, nil
}

// Port is a port number, a range "min:max", or a named port, kept as written. The
// schema checks the string form, including 1-65535 for each number, with a pattern and
// numbers with a size-independent CEL rule. That min <= max in a range is checked by
// Range (and the agent), not the schema: apiservers before 1.34 ignore maxLength when
// costing CEL on int-or-string values, so any string operation there blows the budget.
// +kubebuilder:validation:Type=string
// +kubebuilder:validation:XIntOrString
// +kubebuilder:validation:MaxLength=32
// +kubebuilder:validation:Pattern=`^((6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?|[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?)$`
// +kubebuilder:validation:XValidation:rule="type(self) != int || (self >= 1 && self <= 65535)",message="port number must be between 1 and 65535"
type Port struct {
	// Num holds the value when the port was written as a JSON number.
	Num int64
	// Str holds the value when the port was written as a JSON string.
	Str string
	// IsStr records which form was written.
	IsStr bool
}

// PortFromNumber returns a single port written as a number.
func PortFromNumber(n uint16) Port { return Port{Num: int64(n)} }

// PortFromString returns a port, range "min:max" or port name written as a string.
func PortFromString(s string) Port { return Port{Str: s, IsStr: true} }

// PortFromRange returns the range min:max in its string form (a single port when min == max).
func PortFromRange(min, max uint16) Port {
	if min == max {
		return PortFromNumber(min)
	}
	return PortFromString(fmt.Sprintf("%d:%d", min, max))
}

// String returns the port as written.
func (p Port) String() string {
	if p.IsStr {
		return p.Str
	}
	return strconv.FormatInt(p.Num, 10)
}

// Range interprets the port: a number or "a:b" gives min and max (name empty); anything
// else is a named port (min and max zero). Numbers must be within 1-65535 and min <= max.
func (p Port) Range() (min, max uint16, name string, err error) {
	if !p.IsStr {
		n, err := portNumber(strconv.FormatInt(p.Num, 10))
		return n, n, "", err
	}
	s := p.Str
	if s == "" {
		return 0, 0, "", fmt.Errorf("port is empty")
	}
	if !strings.ContainsAny(s[:1], "0123456789") {
		return 0, 0, s, nil
	}
	lo, hi, isRange := strings.Cut(s, ":")
	if min, err = portNumber(lo); err != nil {
		return 0, 0, "", err
	}
	if !isRange {
		return min, min, "", nil
	}
	if max, err = portNumber(hi); err != nil {
		return 0, 0, "", err
	}
	if min > max {
		return 0, 0, "", fmt.Errorf("port range %q: start is above end", s)
	}
	return min, max, "", nil
}

func portNumber(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %q: must be a number between 1 and 65535", s)
	}
	return uint16(n), nil
}

// MarshalJSON writes the port in the form it was read.
func (p Port) MarshalJSON() ([]byte, error) {
	if p.IsStr {
		return json.Marshal(p.Str)
	}
	return json.Marshal(p.Num)
}

// UnmarshalJSON reads a number or a string.
func (p *Port) UnmarshalJSON(b []byte) error {
	num, str, isStr, err := decodeNumOrString(b, "port")
	if err != nil {
		return err
	}
	*p = Port{Num: num, Str: str, IsStr: isStr}
	return nil
}

// Protocol names that Calico accepts, with their IP protocol numbers.
const (
	ProtocolTCP     = "TCP"
	ProtocolUDP     = "UDP"
	ProtocolICMP    = "ICMP"
	ProtocolICMPv6  = "ICMPv6"
	ProtocolSCTP    = "SCTP"
	ProtocolUDPLite = "UDPLite"
)

var protocolNumbers = map[string]uint8{
	ProtocolTCP: 6, ProtocolUDP: 17, ProtocolICMP: 1, ProtocolICMPv6: 58,
	ProtocolSCTP: 132, ProtocolUDPLite: 136,
}

// Protocol is an IP protocol given by name ("TCP") or number (6), kept as written.
// +kubebuilder:validation:Type=string
// +kubebuilder:validation:XIntOrString
// +kubebuilder:validation:MaxLength=8
// +kubebuilder:validation:Pattern=`^(TCP|UDP|ICMP|ICMPv6|SCTP|UDPLite)$`
// +kubebuilder:validation:XValidation:rule="type(self) != int || (self >= 1 && self <= 255)",message="protocol number must be between 1 and 255 (or use TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite)"
type Protocol struct {
	// Num holds the value when written as a JSON number.
	Num int64
	// Str holds the value when written as a JSON string.
	Str string
	// IsStr records which form was written.
	IsStr bool
}

// ProtocolFromName returns a protocol written by name, e.g. "TCP".
func ProtocolFromName(name string) Protocol { return Protocol{Str: name, IsStr: true} }

// ProtocolFromNumber returns a protocol written as a number.
func ProtocolFromNumber(n uint8) Protocol { return Protocol{Num: int64(n)} }

// String returns the protocol as written.
func (p Protocol) String() string {
	if p.IsStr {
		return p.Str
	}
	return strconv.FormatInt(p.Num, 10)
}

// Number returns the IP protocol number (TCP 6, UDP 17, ...). Names are matched exactly
// as Calico spells them; numbers must be 1-255.
func (p Protocol) Number() (uint8, error) {
	if p.IsStr {
		n, ok := protocolNumbers[p.Str]
		if !ok {
			return 0, fmt.Errorf("protocol %q: must be one of TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number", p.Str)
		}
		return n, nil
	}
	if p.Num < 1 || p.Num > 255 {
		return 0, fmt.Errorf("protocol %d: must be between 1 and 255", p.Num)
	}
	return uint8(p.Num), nil
}

// SupportsPorts says whether rules with this protocol may match on ports.
func (p Protocol) SupportsPorts() bool {
	n, err := p.Number()
	return err == nil && (n == 6 || n == 17 || n == 132 || n == 136)
}

// MarshalJSON writes the protocol in the form it was read.
func (p Protocol) MarshalJSON() ([]byte, error) {
	if p.IsStr {
		return json.Marshal(p.Str)
	}
	return json.Marshal(p.Num)
}

// UnmarshalJSON reads a number or a string.
func (p *Protocol) UnmarshalJSON(b []byte) error {
	num, str, isStr, err := decodeNumOrString(b, "protocol")
	if err != nil {
		return err
	}
	*p = Protocol{Num: num, Str: str, IsStr: isStr}
	return nil
}

// ASNumber is a BGP AS number written as a number (64512), a numeric string, or the
// dotted "high.low" form ("1.10" = 65546), kept as written.
// +kubebuilder:validation:Type=string
// +kubebuilder:validation:XIntOrString
// +kubebuilder:validation:MaxLength=11
// +kubebuilder:validation:Pattern=`^(([0-9]{1,9}|[1-3][0-9]{9}|4[0-1][0-9]{8}|42[0-8][0-9]{7}|429[0-3][0-9]{6}|4294[0-8][0-9]{5}|42949[0-5][0-9]{4}|429496[0-6][0-9]{3}|4294967[0-1][0-9]{2}|42949672[0-8][0-9]|429496729[0-5])|(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})[.](6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))$`
// +kubebuilder:validation:XValidation:rule="type(self) != int || (self >= 0 && self <= 4294967295)",message="AS number must be between 0 and 4294967295"
type ASNumber struct {
	// Num holds the value when written as a JSON number.
	Num int64
	// Str holds the value when written as a JSON string.
	Str string
	// IsStr records which form was written.
	IsStr bool
}

// ASNumberFromUint32 returns an AS number written as a number.
func ASNumberFromUint32(n uint32) ASNumber { return ASNumber{Num: int64(n)} }

// String returns the AS number as written.
func (a ASNumber) String() string {
	if a.IsStr {
		return a.Str
	}
	return strconv.FormatInt(a.Num, 10)
}

// Value returns the 32-bit AS number.
func (a ASNumber) Value() (uint32, error) {
	if !a.IsStr {
		if a.Num < 0 || a.Num > 4294967295 {
			return 0, fmt.Errorf("AS number %d: must be between 0 and 4294967295", a.Num)
		}
		return uint32(a.Num), nil
	}
	high, low, dotted := strings.Cut(a.Str, ".")
	if !dotted {
		n, err := strconv.ParseUint(a.Str, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("AS number %q: must be between 0 and 4294967295", a.Str)
		}
		return uint32(n), nil
	}
	h, errH := strconv.ParseUint(high, 10, 16)
	l, errL := strconv.ParseUint(low, 10, 16)
	if errH != nil || errL != nil {
		return 0, fmt.Errorf("AS number %q: dotted form needs two numbers 0-65535", a.Str)
	}
	return uint32(h<<16 | l), nil
}

// MarshalJSON writes the AS number in the form it was read.
func (a ASNumber) MarshalJSON() ([]byte, error) {
	if a.IsStr {
		return json.Marshal(a.Str)
	}
	return json.Marshal(a.Num)
}

// UnmarshalJSON reads a number or a string.
func (a *ASNumber) UnmarshalJSON(b []byte) error {
	num, str, isStr, err := decodeNumOrString(b, "AS number")
	if err != nil {
		return err
	}
	*a = ASNumber{Num: num, Str: str, IsStr: isStr}
	return nil
}
