package cni

import (
	"fmt"
	"net"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"go.uber.org/zap"
)

// IPAMFuncs are the callbacks when the binary runs as the IPAM plugin (installed
// as, or linked to, "palisade-ipam") under another main plugin, the way calico-ipam
// serves bridge or ptp. The network configuration is the main plugin's: the datastore
// fields at its top level, the ipam section ours. ADD assigns and returns only IPs;
// DEL releases by handle; CHECK and STATUS behave as in the main plugin; the main
// plugin owns the interfaces.
func (p *Plugin) IPAMFuncs() skel.CNIFuncs {
	return skel.CNIFuncs{Add: p.IPAMAdd, Del: p.IPAMDel, Check: p.IPAMCheck, Status: p.Status, GC: p.GC}
}

// IPAMAdd assigns the pod's addresses and prints them as an IPAM result.
func (p *Plugin) IPAMAdd(args *skel.CmdArgs) error {
	inv, cancel, err := p.start(args)
	if err != nil {
		return err
	}
	defer cancel()
	defer inv.log.Sync() //nolint:errcheck // nothing to do about a failed log flush
	pod, err := ParsePodRef(args.Args, true)
	if err != nil {
		return err
	}
	if err := p.openDatastore(inv); err != nil {
		return err
	}
	req, err := p.assignRequest(inv, args, pod)
	if err != nil {
		return err
	}
	addrs, err := inv.ds.Assign(inv.ctx, req)
	if err != nil {
		p.release(inv, req.Handle)
		return types.NewError(ErrIPAM, fmt.Sprintf("assigning an address to pod %s: %v", pod, err), "")
	}
	inv.log.Info("assigned (IPAM plugin)", zap.Stringer("pod", pod), zap.Any("addrs", addrs))
	res := &current.Result{CNIVersion: current.ImplementedSpecVersion}
	for _, a := range addrs {
		res.IPs = append(res.IPs, &current.IPConfig{
			Address: net.IPNet{IP: a.Addr().AsSlice(), Mask: net.CIDRMask(a.Bits(), a.Addr().BitLen())}})
	}
	out, err := res.GetAsVersion(inv.conf.CNIVersion)
	if err != nil {
		p.release(inv, req.Handle)
		return types.NewError(types.ErrIncompatibleCNIVersion, "converting the result: "+err.Error(), "")
	}
	return out.PrintTo(p.Stdout)
}

// IPAMDel releases the container's handle; an unknown handle is no error.
func (p *Plugin) IPAMDel(args *skel.CmdArgs) error {
	inv, cancel, err := p.start(args)
	if err != nil {
		return err
	}
	defer cancel()
	if err := p.openDatastore(inv); err != nil {
		return err
	}
	handle := HandleID(inv.conf.Name, args.ContainerID)
	if err := inv.ds.ReleaseByHandle(inv.ctx, handle); err != nil {
		return types.NewError(ErrIPAM, fmt.Sprintf("releasing the addresses of handle %s: %v", handle, err), "")
	}
	return nil
}

// IPAMCheck has nothing of its own to verify beyond a readable config and datastore:
// the main plugin checks the interfaces and addresses.
func (p *Plugin) IPAMCheck(args *skel.CmdArgs) error {
	inv, cancel, err := p.start(args)
	if err != nil {
		return err
	}
	defer cancel()
	return p.openDatastore(inv)
}
