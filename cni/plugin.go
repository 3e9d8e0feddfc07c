package cni

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/palisadenet/palisade/calc/ifacename"
	"github.com/palisadenet/palisade/dataplane/workload"
)

// Plugin-specific error codes (the spec reserves 100 and above for plugins).
const (
	// ErrIPAM: no address could be assigned (unknown or exhausted pool, fixed address
	// taken or outside every pool).
	ErrIPAM uint = 100
	// ErrDatastore: the datastore could not be opened or read.
	ErrDatastore uint = 101
	// ErrPodAnnotation: a cni.projectcalico.org annotation on the pod is malformed.
	ErrPodAnnotation uint = 102
	// ErrDataplane: the interfaces, addresses or routes could not be set up or removed.
	ErrDataplane uint = 103
	// ErrCheckFailed: CHECK found the attachment different from what ADD made.
	ErrCheckFailed uint = 104
)

// Timeout bounds one invocation; the kubelet's own CNI timeout is longer.
// rollbackTimeout bounds the undoing of a failed ADD, which gets its own deadline.
const (
	Timeout         = 60 * time.Second
	rollbackTimeout = 15 * time.Second
)

// Plugin holds the plugin's dependencies; its methods are the skel callbacks.
type Plugin struct {
	Env     Env
	Plumber Plumber
	// OpenDatastore builds the datastore the config names.
	OpenDatastore func(ctx context.Context, conf *NetConf, log *zap.Logger) (Datastore, error)
	// Stdout receives the result; Stderr the logs unless the config names a log file.
	Stdout, Stderr io.Writer
}

// Funcs returns the skel callbacks for every command.
func (p *Plugin) Funcs() skel.CNIFuncs {
	return skel.CNIFuncs{Add: p.Add, Del: p.Del, Check: p.Check, Status: p.Status, GC: p.GC}
}

// SupportedVersions are the spec versions the plugin speaks.
var SupportedVersions = version.PluginSupports("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")

type invocation struct {
	conf *NetConf
	log  *zap.Logger
	ds   Datastore
	ctx  context.Context
}

func (p *Plugin) start(args *skel.CmdArgs) (*invocation, context.CancelFunc, error) {
	conf, err := ParseConfig(args.StdinData, p.Env)
	if err != nil {
		return nil, nil, err
	}
	log, err := NewLogger(conf, p.Stderr)
	if err != nil {
		return nil, nil, types.NewError(types.ErrInvalidNetworkConfig, err.Error(), "")
	}
	log = log.With(zap.String("containerID", args.ContainerID), zap.String("ifname", args.IfName))
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	return &invocation{conf: conf, log: log, ctx: ctx}, cancel, nil
}

func (p *Plugin) openDatastore(inv *invocation) error {
	ds, err := p.OpenDatastore(inv.ctx, inv.conf, inv.log)
	if err != nil {
		return types.NewError(ErrDatastore, fmt.Sprintf("opening the %s datastore: %v", inv.conf.DatastoreType, err), "")
	}
	inv.ds = ds
	return nil
}

// Add attaches a pod: IPAM first, then the interfaces, then the record of the pod's
// addresses. Whatever fails after the assignment undoes the earlier steps, so a
// failed ADD leaks neither an address nor an interface.
func (p *Plugin) Add(args *skel.CmdArgs) error {
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
	if err := p.checkPodNS(args); err != nil {
		return err
	}
	if err := p.openDatastore(inv); err != nil {
		return err
	}
	addrs, wres, err := p.attach(inv, args, pod)
	if err != nil {
		return err
	}
	// The version converts: ParseConfig accepted only versions the plugin speaks.
	res, err := BuildResult(inv.conf.CNIVersion, args.Netns, wres, addrs).GetAsVersion(inv.conf.CNIVersion)
	if err != nil {
		return types.NewError(types.ErrIncompatibleCNIVersion, "converting the result: "+err.Error(), "")
	}
	return res.PrintTo(p.Stdout)
}

// attach assigns, plumbs and records; a failing step undoes the earlier ones.
func (p *Plugin) attach(inv *invocation, args *skel.CmdArgs, pod PodRef) ([]netip.Prefix, workload.Result, error) {
	start := time.Now()
	req, err := p.assignRequest(inv, args, pod)
	if err != nil {
		return nil, workload.Result{}, err
	}
	lookedUp := time.Now()
	addrs, err := inv.ds.Assign(inv.ctx, req)
	if err != nil {
		p.release(inv, req.Handle) // Assign undoes itself; this also covers a timeout mid-way
		return nil, workload.Result{}, types.NewError(ErrIPAM, fmt.Sprintf("assigning an address to pod %s: %v", pod, err), "")
	}
	assigned := time.Now()
	spec := workload.Spec{NetNSPath: args.Netns, HostIface: ifacename.Workload(pod.Namespace, pod.Name),
		PodIface: args.IfName, MTU: inv.conf.MTU, Addrs: addrs}
	wres, err := p.Plumber.Setup(spec)
	if err != nil {
		p.release(inv, req.Handle)
		return nil, workload.Result{}, types.NewError(ErrDataplane, fmt.Sprintf("plumbing pod %s: %v", pod, err), "")
	}
	plumbed := time.Now()
	if err := inv.ds.RecordPodIPs(inv.ctx, pod, args.ContainerID, addrs); err != nil {
		if terr := p.Plumber.Teardown(args.Netns, args.IfName, spec.HostIface); terr != nil {
			inv.log.Error("removing interfaces after a failed ADD", zap.Error(terr))
		}
		p.release(inv, req.Handle)
		return nil, workload.Result{}, types.NewError(ErrDatastore, fmt.Sprintf("recording the addresses of pod %s: %v", pod, err), "")
	}
	inv.log.Info("added", zap.Stringer("pod", pod), zap.String("host", spec.HostIface), zap.Any("addrs", addrs),
		zap.Duration("lookup", lookedUp.Sub(start)), zap.Duration("ipam", assigned.Sub(lookedUp)),
		zap.Duration("plumb", plumbed.Sub(assigned)), zap.Duration("record", time.Since(plumbed)))
	return addrs, wres, nil
}

// release undoes an assignment after a failure; its own failure is logged, because
// the original error is the one the runtime must see.
func (p *Plugin) release(inv *invocation, handle string) {
	// A fresh deadline: the invocation's may be what just expired.
	ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
	defer cancel()
	if err := inv.ds.ReleaseByHandle(ctx, handle); err != nil {
		inv.log.Error("releasing addresses after a failed ADD", zap.String("handle", handle), zap.Error(err))
	}
}

func (p *Plugin) assignRequest(inv *invocation, args *skel.CmdArgs, pod PodRef) (AssignRequest, error) {
	// The two reads are independent round trips to the API server: overlap them.
	var labels map[string]string
	var labelsErr error
	labelsDone := make(chan struct{})
	go func() {
		defer close(labelsDone)
		labels, labelsErr = inv.ds.NodeLabels(inv.ctx, inv.conf.Nodename)
	}()
	ann, found, err := inv.ds.PodAnnotations(inv.ctx, pod)
	<-labelsDone
	if err != nil {
		return AssignRequest{}, types.NewError(ErrDatastore, fmt.Sprintf("reading pod %s: %v", pod, err), "")
	}
	if !found {
		inv.log.Info("pod not in the datastore; assigning without annotations", zap.Stringer("pod", pod))
	}
	preq, err := ParseAnnotations(ann, inv.conf.IPAM.IPv4Pools, inv.conf.IPAM.IPv6Pools)
	if err != nil {
		return AssignRequest{}, types.NewError(ErrPodAnnotation, fmt.Sprintf("pod %s: %v", pod, err), "")
	}
	if labelsErr != nil {
		return AssignRequest{}, types.NewError(ErrDatastore, fmt.Sprintf("reading node %s: %v", inv.conf.Nodename, labelsErr), "")
	}
	req := AssignRequest{
		Handle: HandleID(inv.conf.Name, args.ContainerID), Node: inv.conf.Nodename,
		Pools4: preq.Pools4, Pools6: preq.Pools6, Fixed: preq.Fixed, NodeLabels: labels,
		Attrs: map[string]string{"namespace": pod.Namespace, "pod": pod.Name, "node": inv.conf.Nodename},
	}
	if len(preq.Fixed) == 0 {
		if inv.conf.IPAM.WantV4() {
			req.Num4 = 1
		}
		if inv.conf.IPAM.WantV6() {
			req.Num6 = 1
		}
	}
	return req, nil
}

// checkPodNS rejects, before anything is assigned, a CNI_NETNS that is not a network
// namespace and a pod interface that exists already: a repeated ADD must not take a
// second address under the same handle and then, failing, release the first.
func (p *Plugin) checkPodNS(args *skel.CmdArgs) error {
	exists, err := p.Plumber.PodIfaceExists(args.Netns, args.IfName)
	if err != nil {
		return types.NewError(types.ErrInvalidNetNS, fmt.Sprintf("CNI_NETNS %q: %v", args.Netns, err), "pass the path of the pod's network namespace, e.g. /var/run/netns/<name>")
	}
	if exists {
		return types.NewError(ErrDataplane, fmt.Sprintf("interface %s already exists in %s: DEL the earlier attachment first", args.IfName, args.Netns), "")
	}
	return nil
}

// Del detaches a pod. It succeeds when the container, the namespace or the
// interfaces are already gone, so the runtime may call it any number of times.
func (p *Plugin) Del(args *skel.CmdArgs) error {
	inv, cancel, err := p.start(args)
	if err != nil {
		return err
	}
	defer cancel()
	defer inv.log.Sync() //nolint:errcheck // nothing to do about a failed log flush
	pod, err := ParsePodRef(args.Args, false)
	if err != nil {
		return err
	}
	hostIface := ""
	if pod.Namespace != "" && pod.Name != "" {
		hostIface = ifacename.Workload(pod.Namespace, pod.Name)
	}
	if err := p.Plumber.Teardown(args.Netns, args.IfName, hostIface); err != nil {
		return types.NewError(ErrDataplane, fmt.Sprintf("removing the interfaces of container %s: %v", args.ContainerID, err), "")
	}
	if err := p.openDatastore(inv); err != nil {
		return err
	}
	handle := HandleID(inv.conf.Name, args.ContainerID)
	if err := inv.ds.ReleaseByHandle(inv.ctx, handle); err != nil {
		return types.NewError(ErrIPAM, fmt.Sprintf("releasing the addresses of handle %s: %v", handle, err), "")
	}
	if pod.Namespace != "" && pod.Name != "" {
		if err := inv.ds.ForgetPodIPs(inv.ctx, pod, args.ContainerID); err != nil {
			return types.NewError(ErrDatastore, fmt.Sprintf("removing the address annotations of pod %s: %v", pod, err), "")
		}
	}
	inv.log.Info("released", zap.String("handle", handle), zap.Stringer("pod", pod))
	return nil
}

// Check verifies that the attachment the runtime's cached result describes is in
// place.
func (p *Plugin) Check(args *skel.CmdArgs) error {
	inv, cancel, err := p.start(args)
	if err != nil {
		return err
	}
	defer cancel()
	pod, err := ParsePodRef(args.Args, true)
	if err != nil {
		return err
	}
	if err := version.ParsePrevResult(&inv.conf.PluginConf); err != nil {
		return types.NewError(types.ErrDecodingFailure, "parsing prevResult: "+err.Error(), "")
	}
	if inv.conf.PrevResult == nil {
		return types.NewError(types.ErrInvalidNetworkConfig, "CHECK needs prevResult (the result of ADD)", "")
	}
	prev, err := current.NewResultFromResult(inv.conf.PrevResult)
	if err != nil {
		return types.NewError(types.ErrDecodingFailure, "converting prevResult: "+err.Error(), "")
	}
	addrs := AddrsOfResult(prev, args.IfName)
	if len(addrs) == 0 {
		return types.NewError(ErrCheckFailed, fmt.Sprintf("prevResult has no address on interface %s", args.IfName), "")
	}
	spec := workload.Spec{NetNSPath: args.Netns, HostIface: ifacename.Workload(pod.Namespace, pod.Name),
		PodIface: args.IfName, MTU: inv.conf.MTU, Addrs: addrs}
	if err := p.Plumber.Verify(spec); err != nil {
		return types.NewError(ErrCheckFailed, fmt.Sprintf("pod %s: %v", pod, err), "")
	}
	return nil
}

// Status reports whether ADDs can succeed now: the datastore must answer.
func (p *Plugin) Status(args *skel.CmdArgs) error {
	inv, cancel, err := p.start(args)
	if err != nil {
		return err
	}
	defer cancel()
	if err := p.openDatastore(inv); err != nil {
		return types.NewError(types.ErrPluginNotAvailable, err.Error(), "")
	}
	if err := inv.ds.Ready(inv.ctx); err != nil {
		return types.NewError(types.ErrPluginNotAvailable, fmt.Sprintf("%s datastore not ready: %v", inv.conf.DatastoreType, err), "")
	}
	return nil
}

// GC releases the addresses of this node's attachments that the runtime no longer
// lists in cni.dev/valid-attachments.
func (p *Plugin) GC(args *skel.CmdArgs) error {
	inv, cancel, err := p.start(args)
	if err != nil {
		return err
	}
	defer cancel()
	defer inv.log.Sync() //nolint:errcheck // nothing to do about a failed log flush
	// An absent list (nil, unlike an empty one) would read as "nothing is valid" and
	// release every pod on the node: refuse it.
	if inv.conf.ValidAttachments == nil {
		return types.NewError(types.ErrInvalidNetworkConfig, "GC needs cni.dev/valid-attachments (an empty list if no attachment is valid)", "")
	}
	if err := p.openDatastore(inv); err != nil {
		return err
	}
	valid := map[string]bool{}
	for _, a := range inv.conf.ValidAttachments {
		valid[HandleID(inv.conf.Name, a.ContainerID)] = true
	}
	handles, err := inv.ds.HandlesOnNode(inv.ctx, inv.conf.Nodename, HandleID(inv.conf.Name, ""))
	if err != nil {
		return types.NewError(ErrDatastore, "listing IPAM handles: "+err.Error(), "")
	}
	var errs []error
	for _, h := range handles {
		if valid[h] {
			continue
		}
		inv.log.Info("GC releases stale handle", zap.String("handle", h))
		if err := inv.ds.ReleaseByHandle(inv.ctx, h); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", h, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return types.NewError(ErrIPAM, "releasing stale handles: "+err.Error(), "")
	}
	return nil
}

// NewLogger builds the invocation's logger at the config's level, to the config's
// log file or else to stderr (never stdout: that carries the result).
func NewLogger(conf *NetConf, stderr io.Writer) (*zap.Logger, error) {
	level, err := zap.ParseAtomicLevel(strings.Replace(conf.LogLevel, "warning", "warn", 1))
	if err != nil {
		return nil, fmt.Errorf("log_level: %w", err)
	}
	cfg := zap.NewProductionEncoderConfig()
	cfg.TimeKey = "ts"
	cfg.EncodeTime = zapcore.ISO8601TimeEncoder
	w := stderr
	if conf.LogFilePath != "" {
		// A log file that cannot be opened must not stop pods from starting: the
		// logs go to stderr instead, with a line saying why.
		f, err := openLogFile(conf.LogFilePath)
		if err == nil {
			w = f
		} else if stderr != nil {
			fmt.Fprintf(stderr, "palisade-cni: logging to stderr: %v\n", err)
		}
	}
	if w == nil {
		return zap.NewNop(), nil
	}
	return newZap(cfg, w, level), nil
}

func openLogFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating the directory of log_file_path: %w", err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening log_file_path: %w", err)
	}
	return f, nil
}
