// Package cni is the logic of the palisade-cni plugin (CNI spec 0.3.0 to 1.1.0): it
// turns the runtime's calls into IPAM requests and pod plumbing.
//
// In: the network configuration (stdin, Calico's field names: datastore_type,
// datastore_dir, kubernetes.kubeconfig, nodename, mtu, ipam{type: palisade-ipam,
// assign_ipv4, assign_ipv6, ipv4_pools, ipv6_pools}) and the CNI_* environment as
// skel.CmdArgs; the pod's namespace and name from CNI_ARGS (K8S_POD_NAMESPACE,
// K8S_POD_NAME); the pod's cni.projectcalico.org annotations (ipAddrs, ipv4pools,
// ipv6pools) from the datastore.
//
// Out: ADD assigns addresses under the handle "<network name>.<container ID>"
// (Calico's "k8s-pod-network.<containerID>"), plumbs the pod through
// dataplane/workload (host side calc/ifacename.Workload(namespace, pod), pod side
// CNI_IFNAME), records podIP/podIPs/containerID annotations in kubernetes mode and
// prints a types/100 result. A failure after the assignment releases it and removes
// the interfaces. DEL is idempotent; CHECK verifies the prevResult's attachment;
// STATUS asks the datastore; GC releases this node's handles that the runtime no
// longer lists. Errors are the spec's error JSON (*types.Error): codes 4, 6, 7 and 8
// from the spec for bad environment, undecodable config, invalid config and a bad
// netns; 100-104 for IPAM, datastore, pod annotation, dataplane and CHECK failures.
package cni
