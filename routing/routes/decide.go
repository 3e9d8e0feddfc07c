// Package routes decides and installs the kernel routes that carry pod traffic between
// nodes.
//
// In: this node (name, address with its subnet prefix, NIC), the IP pools with their
// encapsulation modes, the IPAM blocks with their affine node, borrowed IPs, and what is
// known about other nodes (IP, VXLAN VTEP). Out: a Plan (routes, static neighbours and
// FDB entries) computed by the pure Decide, and a Syncer that reconciles a Plan with the
// kernel of one network namespace over netlink, touching only routes that carry
// Protocol.
//
// decide.go and plan.go are pure: they import nothing that touches the kernel.
package routes

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// Well-known device names. They match Calico's so operators find what they expect.
const (
	IPIPDevice  = "tunl0"
	VXLANDevice = "vxlan.calico"
)

// EncapMode is a pool's ipipMode or vxlanMode.
type EncapMode string

const (
	EncapNever       EncapMode = "Never"
	EncapAlways      EncapMode = "Always"
	EncapCrossSubnet EncapMode = "CrossSubnet"
)

// Pool is the part of an IP pool that decides how its blocks are routed.
type Pool struct {
	CIDR      netip.Prefix
	IPIPMode  EncapMode // "" means Never
	VXLANMode EncapMode // "" means Never
}

// LocalNode is the node the plan is computed for.
type LocalNode struct {
	Name string
	// Address is the node IP with the prefix length of its subnet, e.g.
	// 192.168.40.112/24. The subnet decides CrossSubnet.
	Address netip.Prefix
	// Interface is the NIC that holds Address. Native routes name it when set;
	// when empty the kernel picks the device from the gateway.
	Interface string
}

// RemoteNode is what is known about another node.
type RemoteNode struct {
	Name string
	IP   netip.Addr
	// VTEPIP and VTEPMAC are the node's vxlan.calico address; needed only for VXLAN.
	VTEPIP  netip.Addr
	VTEPMAC net.HardwareAddr
}

// Block is an IPAM block and the node it is affine to ("" when unclaimed).
type Block struct {
	CIDR netip.Prefix
	Node string
}

// Borrowed is an IP allocated to Node from a block affine to another node.
type Borrowed struct {
	IP   netip.Addr
	Node string
}

// Input is everything Decide needs.
type Input struct {
	Local    LocalNode
	Pools    []Pool
	Blocks   []Block
	Borrowed []Borrowed
	Nodes    []RemoteNode
}

// Kind says how a route carries traffic.
type Kind uint8

const (
	KindBlackhole Kind = iota + 1 // local block: drop what no /32 workload route claims
	KindNative                    // via the node IP on the NIC
	KindIPIP                      // via tunl0, onlink
	KindVXLAN                     // via vxlan.calico to the VTEP IP, onlink
)

func (k Kind) String() string {
	switch k {
	case KindBlackhole:
		return "blackhole"
	case KindNative:
		return "native"
	case KindIPIP:
		return "ipip"
	case KindVXLAN:
		return "vxlan"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Route is one desired kernel route in the main table.
type Route struct {
	Dst     netip.Prefix
	Kind    Kind
	Device  string     // "" lets the kernel resolve the device from Gateway
	Gateway netip.Addr // invalid for blackholes
	OnLink  bool
}

func (r Route) String() string {
	s := fmt.Sprintf("%s %s", r.Kind, r.Dst)
	if r.Gateway.IsValid() {
		s += " via " + r.Gateway.String()
	}
	if r.Device != "" {
		s += " dev " + r.Device
	}
	if r.OnLink {
		s += " onlink"
	}
	return s
}

// Neighbor is a permanent ARP entry on the VXLAN device: VTEP IP → VTEP MAC.
type Neighbor struct {
	IP  netip.Addr
	MAC string // canonical lower-case form, so plans compare with ==
}

// FDBEntry is a permanent bridge FDB entry on the VXLAN device: VTEP MAC → node IP.
type FDBEntry struct {
	MAC string
	Dst netip.Addr
}

// Plan is the desired state: routes sorted by Dst, neighbours and FDB entries sorted.
type Plan struct {
	Routes    []Route
	Neighbors []Neighbor
	FDB       []FDBEntry
}

// Problem explains why something could not be routed. The agent logs and reports
// problems; they never stop the rest of the plan.
type Problem struct {
	Dst    netip.Prefix
	Reason string
}

func (p Problem) Error() string { return fmt.Sprintf("cannot route %s: %s", p.Dst, p.Reason) }

// Decide computes the plan for in. Entries that cannot be routed are left out and
// explained in the problems.
func Decide(in Input) (Plan, []Problem) {
	var plan Plan
	var problems []Problem
	if !in.Local.Address.IsValid() {
		return plan, []Problem{{Reason: "local node has no address"}}
	}
	nodes := make(map[string]RemoteNode, len(in.Nodes))
	for _, n := range in.Nodes {
		nodes[n.Name] = n
	}
	plan.Routes = make([]Route, 0, len(in.Blocks)+len(in.Borrowed))
	vteps := make(map[netip.Addr]RemoteNode, len(in.Nodes))
	add := func(dst netip.Prefix, owner string) {
		n, ok := nodes[owner]
		if !ok {
			problems = append(problems, Problem{dst, fmt.Sprintf("node %q is unknown", owner)})
			return
		}
		r, err := DecideRemoteOrDirect(in.Local, in.Pools, dst, n)
		if err != nil {
			problems = append(problems, Problem{dst, err.Error()})
			if r.Kind == 0 {
				return
			}
		}
		plan.Routes = append(plan.Routes, r)
		if r.Kind == KindVXLAN {
			vteps[n.VTEPIP] = n
		}
	}
	for _, b := range in.Blocks {
		switch {
		case b.Node == "":
			continue // unclaimed: nobody announces it, nothing to route
		case b.Node == in.Local.Name:
			plan.Routes = append(plan.Routes, Route{Dst: b.CIDR.Masked(), Kind: KindBlackhole})
		default:
			add(b.CIDR.Masked(), b.Node)
		}
	}
	for _, b := range in.Borrowed {
		// A borrowed IP on this node already has its /32 to the workload interface
		// (installed by the CNI plugin); elsewhere it needs a /32 to the borrower,
		// which also beats the owner's block route and blackhole.
		if b.Node != in.Local.Name {
			add(netip.PrefixFrom(b.IP, b.IP.BitLen()), b.Node)
		}
	}
	plan.Neighbors = make([]Neighbor, 0, len(vteps))
	plan.FDB = make([]FDBEntry, 0, len(vteps))
	for ip, n := range vteps {
		mac := n.VTEPMAC.String()
		plan.Neighbors = append(plan.Neighbors, Neighbor{IP: ip, MAC: mac})
		plan.FDB = append(plan.FDB, FDBEntry{MAC: mac, Dst: n.IP})
	}
	plan.Sort()
	return plan, problems
}

// DecideRemote returns the route to dst (a remote block or borrowed IP) owned by
// node n, chosen by the modes of the pool that contains dst. A dst in no pool is
// routed natively.
func DecideRemote(local LocalNode, pools []Pool, dst netip.Prefix, n RemoteNode) (Route, error) {
	if !n.IP.IsValid() {
		return Route{}, fmt.Errorf("node %q has no IP", n.Name)
	}
	if n.IP.Is4() != dst.Addr().Is4() {
		return Route{}, fmt.Errorf("node %q IP %s is not of the family of %s", n.Name, n.IP, dst)
	}
	pool, _ := PoolFor(pools, dst)
	sameSubnet := local.Address.Masked().Contains(n.IP)
	switch {
	case encapsulates(pool.VXLANMode, sameSubnet):
		if !n.VTEPIP.IsValid() || len(n.VTEPMAC) == 0 {
			return Route{}, fmt.Errorf("node %q has no VXLAN tunnel address or MAC", n.Name)
		}
		return Route{Dst: dst, Kind: KindVXLAN, Device: VXLANDevice, Gateway: n.VTEPIP, OnLink: true}, nil
	case encapsulates(pool.IPIPMode, sameSubnet):
		if !n.IP.Is4() {
			return Route{}, fmt.Errorf("IPIP carries IPv4 only")
		}
		return Route{Dst: dst, Kind: KindIPIP, Device: IPIPDevice, Gateway: n.IP, OnLink: true}, nil
	case !sameSubnet:
		return Route{}, fmt.Errorf("node %q IP %s is outside this node's subnet %s and the pool does not encapsulate",
			n.Name, n.IP, local.Address.Masked())
	default:
		return Route{Dst: dst, Kind: KindNative, Device: local.Interface, Gateway: n.IP}, nil
	}
}

// DecideRemoteOrDirect is DecideRemote, except that a VXLAN route that cannot be
// built yet because the node has not published its tunnel endpoint falls back to a
// direct route when the node is on our subnet: right after a pool switches to
// VXLAN, the nodes publish their endpoints one by one, and dropping the route until
// then would cut traffic that the shared subnet still carries. The error explains
// the fallback (or the failure, with a zero Route).
func DecideRemoteOrDirect(local LocalNode, pools []Pool, dst netip.Prefix, n RemoteNode) (Route, error) {
	r, err := DecideRemote(local, pools, dst, n)
	if err == nil {
		return r, nil
	}
	pool, _ := PoolFor(pools, dst)
	waitingForVTEP := encapsulates(pool.VXLANMode, true) || encapsulates(pool.VXLANMode, false)
	if waitingForVTEP && (!n.VTEPIP.IsValid() || len(n.VTEPMAC) == 0) && n.IP.IsValid() &&
		n.IP.Is4() == dst.Addr().Is4() && local.Address.Masked().Contains(n.IP) {
		direct := Route{Dst: dst, Kind: KindNative, Device: local.Interface, Gateway: n.IP}
		return direct, fmt.Errorf("%w; routed directly on the shared subnet until it does", err)
	}
	return Route{}, err
}

// encapsulates reports whether a mode asks for a tunnel to a peer that is (or is not)
// in our subnet.
func encapsulates(mode EncapMode, sameSubnet bool) bool {
	switch mode {
	case EncapAlways:
		return true
	case EncapCrossSubnet:
		return !sameSubnet
	}
	return false
}

// PoolFor returns the most specific pool that contains dst.
func PoolFor(pools []Pool, dst netip.Prefix) (Pool, bool) {
	best, found := Pool{}, false
	for _, p := range pools {
		if p.CIDR.Bits() <= dst.Bits() && p.CIDR.Contains(dst.Addr()) &&
			(!found || p.CIDR.Bits() > best.CIDR.Bits()) {
			best, found = p, true
		}
	}
	return best, found
}

// ValidMode reports whether m is a mode the API allows ("" counts as Never).
func ValidMode(m EncapMode) bool {
	return m == "" || m == EncapNever || m == EncapAlways || m == EncapCrossSubnet
}

// Sort orders routes by destination and neighbour/FDB entries by address, so plans
// compare with ==-style diffs.
func (p *Plan) Sort() {
	slices.SortFunc(p.Routes, func(a, b Route) int { return comparePrefix(a.Dst, b.Dst) })
	slices.SortFunc(p.Neighbors, func(a, b Neighbor) int { return a.IP.Compare(b.IP) })
	slices.SortFunc(p.FDB, func(a, b FDBEntry) int {
		if c := a.Dst.Compare(b.Dst); c != 0 {
			return c
		}
		if a.MAC < b.MAC {
			return -1
		}
		if a.MAC > b.MAC {
			return 1
		}
		return 0
	})
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}
