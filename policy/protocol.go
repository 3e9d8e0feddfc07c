package policy

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Protocol is an IANA protocol number.
type Protocol uint8

// Protocol numbers with names in the API.
const (
	ProtocolICMP    Protocol = 1
	ProtocolTCP     Protocol = 6
	ProtocolUDP     Protocol = 17
	ProtocolICMPv6  Protocol = 58
	ProtocolSCTP    Protocol = 132
	ProtocolUDPLite Protocol = 136
)

var protocolNames = []struct {
	name string
	num  Protocol
}{
	{"TCP", ProtocolTCP},
	{"UDP", ProtocolUDP},
	{"ICMP", ProtocolICMP},
	{"ICMPv6", ProtocolICMPv6},
	{"SCTP", ProtocolSCTP},
	{"UDPLite", ProtocolUDPLite},
}

// ParseProtocol reads a protocol name (TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite; any
// letter case) or a number 1-255.
func ParseProtocol(s string) (Protocol, error) {
	for _, p := range protocolNames {
		if strings.EqualFold(s, p.name) {
			return p.num, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("unknown protocol %q (want TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or 1-255)", s)
	}
	return ProtocolFromNumber(n)
}

// ProtocolFromNumber checks that n is a protocol number 1-255.
func ProtocolFromNumber(n int) (Protocol, error) {
	if n < 1 || n > 255 {
		return 0, fmt.Errorf("protocol %d out of range 1-255", n)
	}
	return Protocol(n), nil
}

// String is the protocol's API name, or its number when it has none.
func (p Protocol) String() string {
	for _, n := range protocolNames {
		if n.num == p {
			return n.name
		}
	}
	return strconv.Itoa(int(p))
}

// HasPorts reports whether the protocol carries ports (TCP, UDP, SCTP, UDPLite).
func (p Protocol) HasPorts() bool {
	return p == ProtocolTCP || p == ProtocolUDP || p == ProtocolSCTP || p == ProtocolUDPLite
}

// IsICMP reports whether the protocol is ICMP or ICMPv6.
func (p Protocol) IsICMP() bool { return p == ProtocolICMP || p == ProtocolICMPv6 }

// Port is a port range (First..Last inclusive) or, when Name is set, a named port.
type Port struct {
	First, Last uint16
	Name        string
}

// IsNamed reports whether p is a named port.
func (p Port) IsNamed() bool { return p.Name != "" }

// Contains reports whether the numeric range holds port n (false for named ports).
func (p Port) Contains(n uint16) bool {
	return p.Name == "" && p.First <= n && n <= p.Last
}

// String is the API form: "80", "80:90" or the name.
func (p Port) String() string {
	switch {
	case p.Name != "":
		return p.Name
	case p.First == p.Last:
		return strconv.Itoa(int(p.First))
	}
	return fmt.Sprintf("%d:%d", p.First, p.Last)
}

// PortFromNumber checks that n is a port 1-65535.
func PortFromNumber(n int) (Port, error) {
	if n < 1 || n > 65535 {
		return Port{}, fmt.Errorf("port %d out of range", n)
	}
	return Port{First: uint16(n), Last: uint16(n)}, nil
}

// ParsePort reads "80", "80:90" (first <= last) or a port name (IANA_SVC_NAME).
func ParsePort(s string) (Port, error) {
	if s == "" {
		return Port{}, fmt.Errorf("empty port")
	}
	if first, last, ok := strings.Cut(s, ":"); ok {
		return parsePortRange(s, first, last)
	}
	if isDigits(s) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return Port{}, fmt.Errorf("port %s out of range", s)
		}
		return PortFromNumber(n)
	}
	return PortFromName(s)
}

// PortFromName checks that s is a valid port name (IANA_SVC_NAME: at most 15
// lowercase letters, digits and dashes, with a letter, not starting or ending with
// a dash, no double dash).
func PortFromName(s string) (Port, error) {
	if msgs := validation.IsValidPortName(s); len(msgs) > 0 {
		return Port{}, fmt.Errorf("invalid port name %q: %s", s, strings.Join(msgs, "; "))
	}
	return Port{Name: s}, nil
}

func parsePortRange(s, first, last string) (Port, error) {
	if !isDigits(first) || !isDigits(last) {
		return Port{}, fmt.Errorf("invalid port range %q (want first:last)", s)
	}
	a, errA := strconv.Atoi(first)
	b, errB := strconv.Atoi(last)
	if errA != nil || a < 1 || a > 65535 {
		return Port{}, fmt.Errorf("port %s out of range", first)
	}
	if errB != nil || b < 1 || b > 65535 {
		return Port{}, fmt.Errorf("port %s out of range", last)
	}
	if a > b {
		return Port{}, fmt.Errorf("port range %q: first port is above last", s)
	}
	return Port{First: uint16(a), Last: uint16(b)}, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
