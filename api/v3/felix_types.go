package v3

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KindFelixConfiguration is the kind name of FelixConfiguration.
const KindFelixConfiguration = "FelixConfiguration"

// FelixConfiguration holds dataplane agent settings: cluster-wide (name "default") or per
// node (name "node.<nodename>"). Every field is optional; unset means the agent default.
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,path=felixconfigurations,singular=felixconfiguration
// +kubebuilder:printcolumn:name="BPF",type=boolean,JSONPath=`.spec.bpfEnabled`
// +kubebuilder:printcolumn:name="Iptables Backend",type=string,JSONPath=`.spec.iptablesBackend`
// +kubebuilder:printcolumn:name="VXLAN",type=boolean,JSONPath=`.spec.vxlanEnabled`
// +kubebuilder:printcolumn:name="IPIP",type=boolean,JSONPath=`.spec.ipipEnabled`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type FelixConfiguration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`
	Spec              FelixConfigurationSpec `json:"spec,omitzero"`
}

// FelixConfigurationList is a list of FelixConfiguration.
// +kubebuilder:object:root=true
type FelixConfigurationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []FelixConfiguration `json:"items"`
}

// ProtoPort is a protocol, port and optional network, as used by the failsafe port lists.
type ProtoPort struct {
	// +kubebuilder:validation:Enum=TCP;UDP;SCTP;tcp;udp;sctp
	Protocol string `json:"protocol,omitempty"`
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	Port uint16 `json:"port"`
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) || isIP(self)",message="net must be a valid CIDR"
	Net string `json:"net,omitempty"`
}

// RouteTableRange is an inclusive range of routing table numbers.
type RouteTableRange struct {
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=250
	Min int `json:"min"`
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=250
	Max int `json:"max"`
}

// RouteTableIDRange is an inclusive range of routing table numbers (wide form).
type RouteTableIDRange struct {
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	Min int64 `json:"min"`
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	Max int64 `json:"max"`
}

// HealthTimeoutOverride overrides the liveness timeout of one internal component.
type HealthTimeoutOverride struct {
	Name    string   `json:"name"`
	Timeout Duration `json:"timeout"`
}

// FelixConfigurationSpec is the set of Felix settings Palisade reads. Field names and
// meanings follow Calico; settings that only make sense for Calico's own dataplanes are
// kept so existing objects round-trip.
// +kubebuilder:validation:XValidation:rule="!has(self.routeTableRange) || self.routeTableRange.min <= self.routeTableRange.max",message="routeTableRange min must not exceed max",fieldPath=".routeTableRange"
type FelixConfigurationSpec struct {
	UseInternalDataplaneDriver *bool  `json:"useInternalDataplaneDriver,omitempty"`
	DataplaneDriver            string `json:"dataplaneDriver,omitempty"`
	// DataplaneWatchdogTimeout is deprecated; see healthTimeoutOverrides.
	DataplaneWatchdogTimeout *Duration `json:"dataplaneWatchdogTimeout,omitempty"`

	IPv6Support *bool `json:"ipv6Support,omitempty"`

	RouteRefreshInterval           *Duration `json:"routeRefreshInterval,omitempty"`
	InterfaceRefreshInterval       *Duration `json:"interfaceRefreshInterval,omitempty"`
	IptablesRefreshInterval        *Duration `json:"iptablesRefreshInterval,omitempty"`
	IptablesPostWriteCheckInterval *Duration `json:"iptablesPostWriteCheckInterval,omitempty"`
	IptablesLockFilePath           string    `json:"iptablesLockFilePath,omitempty"`
	IptablesLockTimeout            *Duration `json:"iptablesLockTimeout,omitempty"`
	IptablesLockProbeInterval      *Duration `json:"iptablesLockProbeInterval,omitempty"`
	IpsetsRefreshInterval          *Duration `json:"ipsetsRefreshInterval,omitempty"`
	NftablesRefreshInterval        *Duration `json:"nftablesRefreshInterval,omitempty"`
	// IptablesBackend: Legacy, NFT or Auto.
	// +kubebuilder:validation:Enum=Legacy;NFT;Auto
	IptablesBackend *string `json:"iptablesBackend,omitempty"`
	// NFTablesMode: Enabled, Disabled or Auto.
	// +kubebuilder:validation:Enum=Enabled;Disabled;Auto
	NFTablesMode *string `json:"nftablesMode,omitempty"`
	// +kubebuilder:validation:Minimum=0
	MaxIpsetSize   *int      `json:"maxIpsetSize,omitempty"`
	NetlinkTimeout *Duration `json:"netlinkTimeout,omitempty"`

	MetadataAddr string `json:"metadataAddr,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	MetadataPort    *int   `json:"metadataPort,omitempty"`
	OpenstackRegion string `json:"openstackRegion,omitempty"`

	InterfacePrefix  string `json:"interfacePrefix,omitempty"`
	InterfaceExclude string `json:"interfaceExclude,omitempty"`

	// ChainInsertMode: Insert or Append.
	// +kubebuilder:validation:Enum=Insert;Append
	ChainInsertMode string `json:"chainInsertMode,omitempty"`
	// DefaultEndpointToHostAction: Drop, Accept or Return.
	// +kubebuilder:validation:Enum=Drop;Accept;Return
	DefaultEndpointToHostAction string `json:"defaultEndpointToHostAction,omitempty"`
	// +kubebuilder:validation:Enum=Accept;Return
	IptablesFilterAllowAction string `json:"iptablesFilterAllowAction,omitempty"`
	// +kubebuilder:validation:Enum=Drop;Reject
	IptablesFilterDenyAction string `json:"iptablesFilterDenyAction,omitempty"`
	// +kubebuilder:validation:Enum=Accept;Return
	IptablesMangleAllowAction string `json:"iptablesMangleAllowAction,omitempty"`
	// +kubebuilder:validation:Enum=Accept;Return
	NftablesFilterAllowAction string `json:"nftablesFilterAllowAction,omitempty"`
	// +kubebuilder:validation:Enum=Drop;Reject
	NftablesFilterDenyAction string `json:"nftablesFilterDenyAction,omitempty"`
	// +kubebuilder:validation:Enum=Accept;Return
	NftablesMangleAllowAction string `json:"nftablesMangleAllowAction,omitempty"`
	// IptablesMarkMask is the packet mark bits the agent may use (a 32-bit mask).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4294967295
	IptablesMarkMask *int64 `json:"iptablesMarkMask,omitempty"`
	// NftablesMarkMask is the nftables equivalent of iptablesMarkMask.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4294967295
	NftablesMarkMask             *int64 `json:"nftablesMarkMask,omitempty"`
	DisableConntrackInvalidCheck *bool  `json:"disableConntrackInvalidCheck,omitempty"`

	LogPrefix       string      `json:"logPrefix,omitempty"`
	LogFilePath     string      `json:"logFilePath,omitempty"`
	LogSeverityFile LogSeverity `json:"logSeverityFile,omitempty"`
	// LogSeverityScreen is the log level on stderr.
	LogSeverityScreen     LogSeverity `json:"logSeverityScreen,omitempty"`
	LogSeveritySys        LogSeverity `json:"logSeveritySys,omitempty"`
	LogDebugFilenameRegex string      `json:"logDebugFilenameRegex,omitempty"`

	IPIPEnabled *bool `json:"ipipEnabled,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	IPIPMTU *int `json:"ipipMTU,omitempty"`

	VXLANEnabled *bool `json:"vxlanEnabled,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	VXLANMTU *int `json:"vxlanMTU,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	VXLANMTUV6 *int `json:"vxlanMTUV6,omitempty"`
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	VXLANPort *int `json:"vxlanPort,omitempty"`
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16777215
	VXLANVNI                       *int  `json:"vxlanVNI,omitempty"`
	AllowVXLANPacketsFromWorkloads *bool `json:"allowVXLANPacketsFromWorkloads,omitempty"`
	AllowIPIPPacketsFromWorkloads  *bool `json:"allowIPIPPacketsFromWorkloads,omitempty"`

	ReportingInterval        *Duration `json:"reportingInterval,omitempty"`
	ReportingTTL             *Duration `json:"reportingTTL,omitempty"`
	EndpointReportingEnabled *bool     `json:"endpointReportingEnabled,omitempty"`
	EndpointReportingDelay   *Duration `json:"endpointReportingDelay,omitempty"`
	EndpointStatusPathPrefix string    `json:"endpointStatusPathPrefix,omitempty"`

	HealthEnabled *bool   `json:"healthEnabled,omitempty"`
	HealthHost    *string `json:"healthHost,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	HealthPort *int `json:"healthPort,omitempty"`
	// +kubebuilder:validation:MaxItems=64
	HealthTimeoutOverrides []HealthTimeoutOverride `json:"healthTimeoutOverrides,omitzero"`

	PrometheusMetricsEnabled *bool  `json:"prometheusMetricsEnabled,omitempty"`
	PrometheusMetricsHost    string `json:"prometheusMetricsHost,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	PrometheusMetricsPort             *int  `json:"prometheusMetricsPort,omitempty"`
	PrometheusGoMetricsEnabled        *bool `json:"prometheusGoMetricsEnabled,omitempty"`
	PrometheusProcessMetricsEnabled   *bool `json:"prometheusProcessMetricsEnabled,omitempty"`
	PrometheusWireGuardMetricsEnabled *bool `json:"prometheusWireGuardMetricsEnabled,omitempty"`

	// FailsafeInboundHostPorts are always allowed into host endpoints. Unset means the
	// defaults; an empty list means none.
	// +kubebuilder:validation:MaxItems=256
	FailsafeInboundHostPorts []ProtoPort `json:"failsafeInboundHostPorts,omitzero"`
	// FailsafeOutboundHostPorts are always allowed out of host endpoints.
	// +kubebuilder:validation:MaxItems=256
	FailsafeOutboundHostPorts []ProtoPort `json:"failsafeOutboundHostPorts,omitzero"`

	// KubeNodePortRanges are the NodePort ranges, e.g. "30000:32767".
	// +kubebuilder:validation:MaxItems=16
	KubeNodePortRanges []Port `json:"kubeNodePortRanges,omitzero"`
	// NATPortRange is the SNAT source port range, e.g. "32768:65535".
	NATPortRange *Port `json:"natPortRange,omitempty"`
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="size(self) == 0 || isIP(self)",message="natOutgoingAddress must be an IP address"
	NATOutgoingAddress string `json:"natOutgoingAddress,omitempty"`
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="size(self) == 0 || isIP(self)",message="deviceRouteSourceAddress must be an IP address"
	DeviceRouteSourceAddress string `json:"deviceRouteSourceAddress,omitempty"`
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="size(self) == 0 || isIP(self)",message="deviceRouteSourceAddressIPv6 must be an IP address"
	DeviceRouteSourceAddressIPv6 string `json:"deviceRouteSourceAddressIPv6,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=255
	DeviceRouteProtocol  *int  `json:"deviceRouteProtocol,omitempty"`
	RemoveExternalRoutes *bool `json:"removeExternalRoutes,omitempty"`
	// +kubebuilder:validation:MaxItems=1000
	ExternalNodesCIDRList []string `json:"externalNodesList,omitzero"`
	// +kubebuilder:validation:Enum=WorkloadIPs;CalicoIPAM
	RouteSource     string           `json:"routeSource,omitempty"`
	RouteTableRange *RouteTableRange `json:"routeTableRange,omitempty"`
	// +kubebuilder:validation:MaxItems=64
	RouteTableRanges  []RouteTableIDRange `json:"routeTableRanges,omitzero"`
	RouteSyncDisabled *bool               `json:"routeSyncDisabled,omitempty"`
	// +kubebuilder:validation:Enum=Drop;Reject;Disabled
	ServiceLoopPrevention string `json:"serviceLoopPrevention,omitempty"`
	// +kubebuilder:validation:Enum=Enabled;Disabled
	FloatingIPs *string `json:"floatingIPs,omitempty"`

	BPFEnabled *bool `json:"bpfEnabled,omitempty"`
	// +kubebuilder:validation:Enum=Off;Info;Debug
	BPFLogLevel                        string `json:"bpfLogLevel,omitempty"`
	BPFDataIfacePattern                string `json:"bpfDataIfacePattern,omitempty"`
	BPFConnectTimeLoadBalancingEnabled *bool  `json:"bpfConnectTimeLoadBalancingEnabled,omitempty"`
	// +kubebuilder:validation:Enum=Tunnel;DSR
	BPFExternalServiceMode             string `json:"bpfExternalServiceMode,omitempty"`
	BPFKubeProxyIptablesCleanupEnabled *bool  `json:"bpfKubeProxyIptablesCleanupEnabled,omitempty"`

	WireguardEnabled   *bool `json:"wireguardEnabled,omitempty"`
	WireguardEnabledV6 *bool `json:"wireguardEnabledV6,omitempty"`
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	WireguardListeningPort       *int   `json:"wireguardListeningPort,omitempty"`
	WireguardMTU                 *int   `json:"wireguardMTU,omitempty"`
	WireguardInterfaceName       string `json:"wireguardInterfaceName,omitempty"`
	WireguardRoutingRulePriority *int   `json:"wireguardRoutingRulePriority,omitempty"`

	XDPEnabled        *bool `json:"xdpEnabled,omitempty"`
	GenericXDPEnabled *bool `json:"genericXDPEnabled,omitempty"`

	FeatureDetectOverride              string `json:"featureDetectOverride,omitempty"`
	FeatureGates                       string `json:"featureGates,omitempty"`
	PolicySyncPathPrefix               string `json:"policySyncPathPrefix,omitempty"`
	MTUIfacePattern                    string `json:"mtuIfacePattern,omitempty"`
	IptablesNATOutgoingInterfaceFilter string `json:"iptablesNATOutgoingInterfaceFilter,omitempty"`
	SidecarAccelerationEnabled         *bool  `json:"sidecarAccelerationEnabled,omitempty"`

	UsageReportingEnabled      *bool     `json:"usageReportingEnabled,omitempty"`
	UsageReportingInitialDelay *Duration `json:"usageReportingInitialDelay,omitempty"`
	UsageReportingInterval     *Duration `json:"usageReportingInterval,omitempty"`

	DebugMemoryProfilePath  string `json:"debugMemoryProfilePath,omitempty"`
	DebugDisableLogDropping *bool  `json:"debugDisableLogDropping,omitempty"`
}
