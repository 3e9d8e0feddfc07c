package cni

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
)

// Pod annotations Calico users set, read on ADD.
const (
	AnnotationIPAddrs   = "cni.projectcalico.org/ipAddrs"
	AnnotationIPv4Pools = "cni.projectcalico.org/ipv4pools"
	AnnotationIPv6Pools = "cni.projectcalico.org/ipv6pools"
)

// Pod annotations the plugin writes after ADD in kubernetes mode, so the agent learns
// the pod's addresses before the kubelet reports them in the pod's status.
const (
	AnnotationPodIP       = "cni.projectcalico.org/podIP"
	AnnotationPodIPs      = "cni.projectcalico.org/podIPs"
	AnnotationContainerID = "cni.projectcalico.org/containerID"
)

// HandlePrefix is what an IPAM handle starts with when the conflist has no name.
const HandlePrefix = "k8s-pod-network"

// K8sArgs are the CNI_ARGS keys the kubelet (through the container runtime) sets.
type K8sArgs struct {
	types.CommonArgs
	K8S_POD_NAMESPACE          types.UnmarshallableString //nolint:revive // the wire names
	K8S_POD_NAME               types.UnmarshallableString
	K8S_POD_INFRA_CONTAINER_ID types.UnmarshallableString
	K8S_POD_UID                types.UnmarshallableString
}

// PodRef names the pod an attachment belongs to.
type PodRef struct {
	Namespace, Name string
}

func (p PodRef) String() string { return p.Namespace + "/" + p.Name }

// ParsePodRef reads the pod's namespace and name from CNI_ARGS. With required, both
// must be present (ADD, CHECK); DEL tolerates their absence.
func ParsePodRef(cniArgs string, required bool) (PodRef, error) {
	var a K8sArgs
	a.IgnoreUnknown = true
	if err := types.LoadArgs(cniArgs, &a); err != nil {
		return PodRef{}, types.NewError(types.ErrInvalidEnvironmentVariables, "parsing CNI_ARGS: "+err.Error(), "")
	}
	ref := PodRef{Namespace: string(a.K8S_POD_NAMESPACE), Name: string(a.K8S_POD_NAME)}
	if required && (ref.Namespace == "" || ref.Name == "") {
		return PodRef{}, types.NewError(types.ErrInvalidEnvironmentVariables,
			"CNI_ARGS lacks K8S_POD_NAMESPACE or K8S_POD_NAME: palisade-cni attaches Kubernetes pods only",
			"the container runtime sets them when the kubelet calls it; set them by hand when calling the plugin directly")
	}
	return ref, nil
}

// PodRequest is what a pod's annotations ask of IPAM.
type PodRequest struct {
	Fixed          []netip.Addr // ipAddrs: exactly these addresses, nothing else
	Pools4, Pools6 []string     // pool names or CIDRs
}

// ParseAnnotations reads the IPAM annotations. defaults4/6 (the config's pools) apply
// when the pod names none. Fixed addresses take precedence over pool choice, as in
// Calico.
func ParseAnnotations(ann map[string]string, defaults4, defaults6 []string) (PodRequest, error) {
	req := PodRequest{Pools4: defaults4, Pools6: defaults6}
	if s, ok := ann[AnnotationIPAddrs]; ok {
		var ips []string
		if err := json.Unmarshal([]byte(s), &ips); err != nil {
			return PodRequest{}, fmt.Errorf("annotation %s: want a JSON list of addresses such as [\"10.0.0.5\"]: %v", AnnotationIPAddrs, err)
		}
		for _, s := range ips {
			ip, err := netip.ParseAddr(strings.TrimSpace(s))
			if err != nil {
				return PodRequest{}, fmt.Errorf("annotation %s: %q is not an IP address", AnnotationIPAddrs, s)
			}
			req.Fixed = append(req.Fixed, ip.Unmap())
		}
		if len(req.Fixed) == 0 {
			return PodRequest{}, fmt.Errorf("annotation %s lists no address", AnnotationIPAddrs)
		}
		req.Pools4, req.Pools6 = nil, nil
		return req, nil
	}
	for _, a := range []struct {
		key  string
		v4   bool
		dest *[]string
	}{{AnnotationIPv4Pools, true, &req.Pools4}, {AnnotationIPv6Pools, false, &req.Pools6}} {
		s, ok := ann[a.key]
		if !ok {
			continue
		}
		var pools []string
		if err := json.Unmarshal([]byte(s), &pools); err != nil {
			return PodRequest{}, fmt.Errorf("annotation %s: want a JSON list of pool names or CIDRs such as [\"default-ipv4-ippool\"]: %v", a.key, err)
		}
		if err := checkPools("annotation "+a.key, pools, a.v4); err != nil {
			return PodRequest{}, err
		}
		*a.dest = pools
	}
	return req, nil
}

// HandleID is the IPAM handle of one attachment: "<network name>.<container ID>",
// which for the usual conflist is Calico's "k8s-pod-network.<containerID>".
func HandleID(network, containerID string) string {
	if network == "" {
		network = HandlePrefix
	}
	return network + "." + containerID
}

// PodIPAnnotations is the patch ADD writes to the pod in kubernetes mode.
func PodIPAnnotations(containerID string, addrs []netip.Prefix) map[string]string {
	strs := make([]string, len(addrs))
	for i, a := range addrs {
		strs[i] = a.String()
	}
	ann := map[string]string{AnnotationContainerID: containerID, AnnotationPodIPs: strings.Join(strs, ",")}
	if len(strs) > 0 {
		ann[AnnotationPodIP] = strs[0]
	}
	return ann
}
