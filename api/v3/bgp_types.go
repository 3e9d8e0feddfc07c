package v3

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kind names, as they appear in `kind:`.
const (
	KindBGPPeer          = "BGPPeer"
	KindBGPConfiguration = "BGPConfiguration"
)

// BGPPeer is a BGP session (or a set of sessions chosen by selectors) to set up.
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,path=bgppeers,singular=bgppeer
// +kubebuilder:printcolumn:name="Peer IP",type=string,JSONPath=`.spec.peerIP`
// +kubebuilder:printcolumn:name="AS",type=string,JSONPath=`.spec.asNumber`
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.spec.node`
// +kubebuilder:printcolumn:name="Node Selector",type=string,JSONPath=`.spec.nodeSelector`,priority=1
// +kubebuilder:printcolumn:name="Peer Selector",type=string,JSONPath=`.spec.peerSelector`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BGPPeer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`
	Spec              BGPPeerSpec `json:"spec,omitzero"`
}

// BGPPeerSpec says which nodes peer with which address or which other nodes.
// +kubebuilder:validation:XValidation:rule="!(has(self.node) && size(self.node) > 0 && has(self.nodeSelector) && size(self.nodeSelector) > 0)",message="node and nodeSelector cannot both be set",fieldPath=".nodeSelector"
// +kubebuilder:validation:XValidation:rule="!(has(self.peerIP) && size(self.peerIP) > 0 && has(self.peerSelector) && size(self.peerSelector) > 0)",message="peerIP and peerSelector cannot both be set",fieldPath=".peerSelector"
// +kubebuilder:validation:XValidation:rule="!has(self.peerIP) || size(self.peerIP) == 0 || has(self.asNumber)",message="asNumber is required with peerIP",fieldPath=".asNumber"
type BGPPeerSpec struct {
	// Node is the one node that peers; empty with no nodeSelector means all nodes.
	Node string `json:"node,omitempty"`
	// PeerIP is the peer's address, optionally with a port: "10.0.0.1", "10.0.0.1:179",
	// "[fd00::1]:179".
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isIP(self) || (self.startsWith('[') ? (self.contains(']:') && isIP(self.substring(1, self.indexOf(']:'))) && self.substring(self.indexOf(']:') + 2).matches('^[0-9]{1,5}$') && int(self.substring(self.indexOf(']:') + 2)) >= 1 && int(self.substring(self.indexOf(']:') + 2)) <= 65535) : (self.split(':').size() == 2 && isIP(self.split(':')[0]) && self.split(':')[1].matches('^[0-9]{1,5}$') && int(self.split(':')[1]) >= 1 && int(self.split(':')[1]) <= 65535))",message="peerIP must be an IP address, optionally with a port: 10.0.0.1:179 or [fd00::1]:179"
	PeerIP string `json:"peerIP,omitempty"`
	// ASNumber of the peer.
	ASNumber *ASNumber `json:"asNumber,omitempty"`
	// NodeSelector picks the nodes that peer.
	NodeSelector string `json:"nodeSelector,omitempty"`
	// PeerSelector picks other nodes as the peers.
	PeerSelector string `json:"peerSelector,omitempty"`
	// Password for the session (TCP MD5).
	Password *BGPPassword `json:"password,omitempty"`
	// SourceAddress: UseNodeIP binds the session to the node's IP; None lets the kernel pick.
	// +kubebuilder:validation:Enum=UseNodeIP;None
	SourceAddress string `json:"sourceAddress,omitempty"`
	// FailureDetectionMode: None or BFDIfDirectlyConnected.
	// +kubebuilder:validation:Enum=None;BFDIfDirectlyConnected
	FailureDetectionMode string `json:"failureDetectionMode,omitempty"`
	// RestartMode: GracefulRestart or LongLivedGracefulRestart.
	// +kubebuilder:validation:Enum=GracefulRestart;LongLivedGracefulRestart
	RestartMode string `json:"restartMode,omitempty"`
	// MaxRestartTime is the graceful-restart time, e.g. "120s".
	MaxRestartTime *Duration `json:"maxRestartTime,omitempty"`
	// KeepaliveTime of the session, e.g. "30s".
	KeepaliveTime *Duration `json:"keepaliveTime,omitempty"`
	// BIRDGatewayMode: Recursive or DirectIfDirectlyConnected.
	// +kubebuilder:validation:Enum=Recursive;DirectIfDirectlyConnected
	BIRDGatewayMode string `json:"birdGatewayMode,omitempty"`
	// NumAllowedLocalASNumbers is how often our own AS may appear in a received path.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	NumAllowedLocalASNumbers *int32 `json:"numAllowedLocalASNumbers,omitempty"`
	// TTLSecurity is the number of hops allowed (GTSM); 0 disables it.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=255
	TTLSecurity *int `json:"ttlSecurity,omitempty"`
	// KeepOriginalNextHop keeps the next hop of routes learned from this peer.
	KeepOriginalNextHop *bool `json:"keepOriginalNextHop,omitempty"`
	// NextHopMode: Auto, Self or Keep.
	// +kubebuilder:validation:Enum=Auto;Self;Keep
	NextHopMode string `json:"nextHopMode,omitempty"`
	// ReachableBy is the gateway through which the peer is reached (for route reflectors).
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="size(self) == 0 || isIP(self)",message="reachableBy must be an IP address"
	ReachableBy string `json:"reachableBy,omitempty"`
	// Filters are the names of BGPFilter resources applied to the session, in order.
	// +kubebuilder:validation:MaxItems=64
	Filters []string `json:"filters,omitzero"`
	// LocalWorkloadSelector makes local workloads the peers.
	LocalWorkloadSelector string `json:"localWorkloadSelector,omitempty"`
}

// BGPPassword says where a BGP password comes from.
type BGPPassword struct {
	// SecretKeyRef names a key of a Secret in the agent's namespace.
	SecretKeyRef *corev1.SecretKeySelector `json:"secretKeyRef,omitempty"`
}

// BGPPeerList is a list of BGPPeer.
// +kubebuilder:object:root=true
type BGPPeerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []BGPPeer `json:"items"`
}

// BGPConfiguration holds cluster-wide BGP settings (name "default") or per-node overrides
// (name "node.<nodename>").
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,path=bgpconfigurations,singular=bgpconfiguration
// +kubebuilder:printcolumn:name="Mesh",type=boolean,JSONPath=`.spec.nodeToNodeMeshEnabled`
// +kubebuilder:printcolumn:name="AS",type=string,JSONPath=`.spec.asNumber`
// +kubebuilder:printcolumn:name="Log",type=string,JSONPath=`.spec.logSeverityScreen`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BGPConfiguration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`
	Spec              BGPConfigurationSpec `json:"spec,omitzero"`
}

// BGPConfigurationSpec holds BGP settings.
type BGPConfigurationSpec struct {
	// LogSeverityScreen: Trace, Debug, Info, Warning, Error, Fatal.
	LogSeverityScreen LogSeverity `json:"logSeverityScreen,omitempty"`
	// NodeToNodeMeshEnabled turns the full node mesh on (the default) or off.
	NodeToNodeMeshEnabled *bool `json:"nodeToNodeMeshEnabled,omitempty"`
	// ASNumber is the default AS of nodes (64512 when unset).
	ASNumber *ASNumber `json:"asNumber,omitempty"`
	// ServiceLoadBalancerIPs are advertised LoadBalancer ranges.
	// +kubebuilder:validation:MaxItems=256
	ServiceLoadBalancerIPs []ServiceIPBlock `json:"serviceLoadBalancerIPs,omitzero"`
	// ServiceExternalIPs are advertised external IP ranges.
	// +kubebuilder:validation:MaxItems=256
	ServiceExternalIPs []ServiceIPBlock `json:"serviceExternalIPs,omitzero"`
	// ServiceClusterIPs are advertised cluster IP ranges.
	// +kubebuilder:validation:MaxItems=256
	ServiceClusterIPs []ServiceIPBlock `json:"serviceClusterIPs,omitzero"`
	// ListenPort is the BGP port (default 179).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	ListenPort uint16 `json:"listenPort,omitempty"`
	// Communities are named community values for prefixAdvertisements.
	// +kubebuilder:validation:MaxItems=256
	Communities []Community `json:"communities,omitzero"`
	// PrefixAdvertisements attach communities to advertised prefixes.
	// +kubebuilder:validation:MaxItems=256
	PrefixAdvertisements []PrefixAdvertisement `json:"prefixAdvertisements,omitzero"`
	// NodeMeshPassword is the password of the node mesh sessions.
	NodeMeshPassword *BGPPassword `json:"nodeMeshPassword,omitempty"`
	// NodeMeshMaxRestartTime is the graceful-restart time of mesh sessions.
	NodeMeshMaxRestartTime *Duration `json:"nodeMeshMaxRestartTime,omitempty"`
	// BindMode: None listens on all addresses; NodeIP only on the node's IP.
	// +kubebuilder:validation:Enum=None;NodeIP
	BindMode *string `json:"bindMode,omitempty"`
	// IgnoredInterfaces are interface globs whose routes are not exported.
	// +kubebuilder:validation:MaxItems=256
	IgnoredInterfaces []string `json:"ignoredInterfaces,omitzero"`
	// LocalWorkloadPeeringIPV4 is the IPv4 address local workloads peer with.
	LocalWorkloadPeeringIPV4 string `json:"localWorkloadPeeringIPV4,omitempty"`
	// LocalWorkloadPeeringIPV6 is the IPv6 address local workloads peer with.
	LocalWorkloadPeeringIPV6 string `json:"localWorkloadPeeringIPV6,omitempty"`
	// ProgramClusterRoutes: Enabled or Disabled.
	// +kubebuilder:validation:Enum=Enabled;Disabled
	ProgramClusterRoutes *string `json:"programClusterRoutes,omitempty"`
}

// LogSeverity is a log level name.
// +kubebuilder:validation:Enum=Trace;Debug;Info;Warning;Error;Fatal
type LogSeverity string

// ServiceIPBlock is a CIDR of service addresses.
type ServiceIPBlock struct {
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) || isIP(self)",message="cidr must be a valid CIDR"
	CIDR string `json:"cidr,omitempty"`
}

// Community is a named BGP community value, "aa:nn" (standard) or "aa:nn:mm" (large).
type Community struct {
	Name string `json:"name,omitempty"`
	// +kubebuilder:validation:Pattern=`^(\d+):(\d+)$|^(\d+):(\d+):(\d+)$`
	Value string `json:"value,omitempty"`
}

// PrefixAdvertisement attaches communities (names or values) to a CIDR.
type PrefixAdvertisement struct {
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="cidr must be a valid CIDR"
	CIDR string `json:"cidr,omitempty"`
	// +kubebuilder:validation:MaxItems=64
	Communities []string `json:"communities,omitzero"`
}

// BGPConfigurationList is a list of BGPConfiguration.
// +kubebuilder:object:root=true
type BGPConfigurationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []BGPConfiguration `json:"items"`
}
