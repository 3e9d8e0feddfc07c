package cni

import (
	"net"
	"net/netip"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/palisadenet/palisade/dataplane/workload"
)

// BuildResult is the ADD result: the host and pod interfaces (the pod one with its
// sandbox), every address on the pod interface with its gateway, and the default
// routes. cniVersion decides whether interface MTUs are reported (spec 1.1).
func BuildResult(cniVersion, netnsPath string, w workload.Result, addrs []netip.Prefix) *current.Result {
	res := &current.Result{CNIVersion: current.ImplementedSpecVersion}
	host := &current.Interface{Name: w.Host.Name, Mac: w.Host.MAC.String()}
	pod := &current.Interface{Name: w.Pod.Name, Mac: w.Pod.MAC.String(), Sandbox: netnsPath}
	if ok, _ := version.GreaterThanOrEqualTo(cniVersion, "1.1.0"); ok {
		host.Mtu, pod.Mtu = w.Host.MTU, w.Pod.MTU
	}
	res.Interfaces = []*current.Interface{host, pod}
	podIndex := 1
	var v4, v6 bool
	for _, a := range addrs {
		gw := workload.GatewayV4
		if a.Addr().Is6() {
			gw, v6 = workload.GatewayV6, true
		} else {
			v4 = true
		}
		res.IPs = append(res.IPs, &current.IPConfig{
			Interface: &podIndex,
			Address:   net.IPNet{IP: a.Addr().AsSlice(), Mask: net.CIDRMask(a.Bits(), a.Addr().BitLen())},
			Gateway:   gw.AsSlice(),
		})
	}
	if v4 {
		res.Routes = append(res.Routes, &types.Route{
			Dst: net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}, GW: workload.GatewayV4.AsSlice()})
	}
	if v6 {
		res.Routes = append(res.Routes, &types.Route{
			Dst: net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}, GW: workload.GatewayV6.AsSlice()})
	}
	return res
}

// AddrsOfResult returns the addresses a previous ADD result gave the interface named
// podIface (CHECK uses the runtime's cached result).
func AddrsOfResult(res *current.Result, podIface string) []netip.Prefix {
	var out []netip.Prefix
	for _, ipc := range res.IPs {
		if ipc.Interface == nil || *ipc.Interface < 0 || *ipc.Interface >= len(res.Interfaces) ||
			res.Interfaces[*ipc.Interface].Name != podIface {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipc.Address.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return out
}
