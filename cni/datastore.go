package cni

import (
	"context"
	"net/netip"

	"github.com/palisadenet/palisade/dataplane/workload"
)

// AssignRequest is one ADD's request to IPAM.
type AssignRequest struct {
	Handle     string
	Node       string
	Num4, Num6 int
	Pools4     []string
	Pools6     []string
	Fixed      []netip.Addr
	Attrs      map[string]string // namespace, pod, node
	NodeLabels map[string]string
}

// Datastore is everything the plugin needs from the cluster: IPAM, the pod's
// annotations, the node's labels (for pool nodeSelectors) and a place to record the
// pod's addresses. OpenDatastore builds the real one from the config; tests supply
// fakes.
type Datastore interface {
	// Assign hands out the addresses (host prefixes) for req.Handle.
	Assign(ctx context.Context, req AssignRequest) ([]netip.Prefix, error)
	// ReleaseByHandle frees everything held by handle; an unknown handle is no error.
	ReleaseByHandle(ctx context.Context, handle string) error
	// HandlesOnNode lists the handles starting with prefix whose allocations were made
	// for node (GC compares them with the runtime's valid attachments).
	HandlesOnNode(ctx context.Context, node, prefix string) ([]string, error)
	// PodAnnotations returns the pod's annotations; found is false when the pod is
	// unknown to the datastore.
	PodAnnotations(ctx context.Context, pod PodRef) (ann map[string]string, found bool, err error)
	// NodeLabels returns the node's labels (nil when the node is unknown).
	NodeLabels(ctx context.Context, node string) (map[string]string, error)
	// RecordPodIPs makes the pod's addresses known before the kubelet reports them
	// (kubernetes mode: annotations; file mode: nothing).
	RecordPodIPs(ctx context.Context, pod PodRef, containerID string, addrs []netip.Prefix) error
	// ForgetPodIPs undoes RecordPodIPs on DEL, but only while the record is still
	// containerID's: a newer sandbox of the same pod may have written its own.
	ForgetPodIPs(ctx context.Context, pod PodRef, containerID string) error
	// Ready says whether the datastore can serve ADDs now (STATUS).
	Ready(ctx context.Context) error
}

// Plumber creates and removes the pod's interfaces; dataplane/workload is the real one.
type Plumber interface {
	// PodIfaceExists fails when netnsPath is not a network namespace.
	PodIfaceExists(netnsPath, podIface string) (bool, error)
	Setup(spec workload.Spec) (workload.Result, error)
	Teardown(netnsPath, podIface, hostIface string) error
	Verify(spec workload.Spec) error
}

// KernelPlumber is the Plumber that changes the kernel.
type KernelPlumber struct{}

// PodIfaceExists calls workload.PodIfaceExists.
func (KernelPlumber) PodIfaceExists(netnsPath, podIface string) (bool, error) {
	return workload.PodIfaceExists(netnsPath, podIface)
}

// Setup calls workload.Setup.
func (KernelPlumber) Setup(spec workload.Spec) (workload.Result, error) { return workload.Setup(spec) }

// Teardown calls workload.Teardown.
func (KernelPlumber) Teardown(netnsPath, podIface, hostIface string) error {
	return workload.Teardown(netnsPath, podIface, hostIface)
}

// Verify calls workload.Verify.
func (KernelPlumber) Verify(spec workload.Spec) error { return workload.Verify(spec) }
