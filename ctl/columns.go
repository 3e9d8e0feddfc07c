package ctl

import (
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"

	v3 "github.com/palisadenet/palisade/api/v3"
)

// column is one column of the default (or wide) table of a kind.
type column struct {
	header string
	value  func(runtime.Object) string
}

// tableColumns are calicoctl's columns after NAME (and NAMESPACE): the default table
// and the -o wide one.
var tableColumns = map[string]struct{ normal, wide []column }{
	v3.KindIPPool: {
		normal: []column{{"CIDR", poolCIDR}, {"SELECTOR", poolSelector}},
		wide: []column{{"CIDR", poolCIDR}, {"NAT", poolNAT}, {"IPIPMODE", poolIPIP}, {"VXLANMODE", poolVXLAN},
			{"DISABLED", poolDisabled}, {"DISABLEBGPEXPORT", poolNoExport}, {"SELECTOR", poolSelector}},
	},
	v3.KindNetworkPolicy: {
		wide: []column{{"ORDER", func(o runtime.Object) string { return order(o.(*v3.NetworkPolicy).Spec.Order) }},
			{"SELECTOR", func(o runtime.Object) string { return o.(*v3.NetworkPolicy).Spec.Selector }}},
	},
	v3.KindGlobalNetworkPolicy: {
		wide: []column{{"ORDER", func(o runtime.Object) string { return order(o.(*v3.GlobalNetworkPolicy).Spec.Order) }},
			{"SELECTOR", func(o runtime.Object) string { return o.(*v3.GlobalNetworkPolicy).Spec.Selector }}},
	},
	v3.KindTier: {
		normal: []column{{"ORDER", func(o runtime.Object) string { return order(o.(*v3.Tier).Spec.Order) }}},
		wide:   []column{{"ORDER", func(o runtime.Object) string { return order(o.(*v3.Tier).Spec.Order) }}},
	},
	v3.KindNetworkSet: {
		wide: []column{{"NETS", func(o runtime.Object) string { return strings.Join(o.(*v3.NetworkSet).Spec.Nets, ",") }}},
	},
	v3.KindGlobalNetworkSet: {
		wide: []column{{"NETS", func(o runtime.Object) string { return strings.Join(o.(*v3.GlobalNetworkSet).Spec.Nets, ",") }}},
	},
	v3.KindHostEndpoint: {
		normal: []column{{"NODE", hepNode}},
		wide: []column{{"NODE", hepNode}, {"INTERFACE", func(o runtime.Object) string { return o.(*v3.HostEndpoint).Spec.InterfaceName }},
			{"IPS", func(o runtime.Object) string { return strings.Join(o.(*v3.HostEndpoint).Spec.ExpectedIPs, ",") }},
			{"PROFILES", func(o runtime.Object) string { return strings.Join(o.(*v3.HostEndpoint).Spec.Profiles, ",") }}},
	},
	v3.KindBGPPeer: {
		normal: bgpPeerColumns,
		wide:   bgpPeerColumns,
	},
	v3.KindBGPConfiguration: {
		normal: bgpConfigColumns,
		wide:   bgpConfigColumns,
	},
	v3.KindIPReservation: {
		wide: []column{{"CIDRS", func(o runtime.Object) string { return strings.Join(o.(*v3.IPReservation).Spec.ReservedCIDRs, ",") }}},
	},
	v3.KindIPAMBlock: {
		normal: []column{{"CIDR", func(o runtime.Object) string { return o.(*v3.IPAMBlock).Spec.CIDR }}, {"AFFINITY", blockAffinity}},
		wide:   []column{{"CIDR", func(o runtime.Object) string { return o.(*v3.IPAMBlock).Spec.CIDR }}, {"AFFINITY", blockAffinity}},
	},
	v3.KindBlockAffinity: {
		normal: []column{{"NODE", func(o runtime.Object) string { return o.(*v3.BlockAffinity).Spec.Node }},
			{"CIDR", func(o runtime.Object) string { return o.(*v3.BlockAffinity).Spec.CIDR }},
			{"STATE", func(o runtime.Object) string { return o.(*v3.BlockAffinity).Spec.State }}},
	},
	v3.KindIPAMHandle: {
		wide: []column{{"HANDLE", func(o runtime.Object) string { return o.(*v3.IPAMHandle).Spec.HandleID }}},
	},
	v3.KindClusterInformation: {
		wide: []column{{"CALICOVERSION", func(o runtime.Object) string { return o.(*v3.ClusterInformation).Spec.CalicoVersion }},
			{"CLUSTERTYPE", func(o runtime.Object) string { return o.(*v3.ClusterInformation).Spec.ClusterType }}},
	},
}

var bgpPeerColumns = []column{
	{"PEERIP", func(o runtime.Object) string { return o.(*v3.BGPPeer).Spec.PeerIP }},
	{"NODE", func(o runtime.Object) string {
		p := o.(*v3.BGPPeer)
		switch {
		case p.Spec.Node != "":
			return p.Spec.Node
		case p.Spec.NodeSelector != "":
			return "(" + p.Spec.NodeSelector + ")"
		}
		return "(global)"
	}},
	{"ASN", func(o runtime.Object) string {
		if a := o.(*v3.BGPPeer).Spec.ASNumber; a != nil {
			return a.String()
		}
		return ""
	}},
}

var bgpConfigColumns = []column{
	{"LOGSEVERITY", func(o runtime.Object) string { return string(o.(*v3.BGPConfiguration).Spec.LogSeverityScreen) }},
	{"MESHENABLED", func(o runtime.Object) string { return boolPtr(o.(*v3.BGPConfiguration).Spec.NodeToNodeMeshEnabled, "") }},
	{"ASNUMBER", func(o runtime.Object) string {
		if a := o.(*v3.BGPConfiguration).Spec.ASNumber; a != nil {
			return a.String()
		}
		return ""
	}},
}

func poolCIDR(o runtime.Object) string { return o.(*v3.IPPool).Spec.CIDR }

func poolSelector(o runtime.Object) string {
	if s := o.(*v3.IPPool).Spec.NodeSelector; s != "" {
		return s
	}
	return "all()"
}

func poolNAT(o runtime.Object) string {
	return strconv.FormatBool(o.(*v3.IPPool).Spec.NATOutgoingEnabled())
}

func poolIPIP(o runtime.Object) string { return encapMode(o.(*v3.IPPool).Spec.IPIPMode) }

func poolVXLAN(o runtime.Object) string { return encapMode(o.(*v3.IPPool).Spec.VXLANMode) }

func poolDisabled(o runtime.Object) string {
	return strconv.FormatBool(o.(*v3.IPPool).Spec.IsDisabled())
}

func poolNoExport(o runtime.Object) string {
	return strconv.FormatBool(o.(*v3.IPPool).Spec.BGPExportDisabled())
}

func encapMode(m v3.EncapMode) string {
	if m == "" {
		return string(v3.EncapNever)
	}
	return string(m)
}

func hepNode(o runtime.Object) string { return o.(*v3.HostEndpoint).Spec.Node }

func blockAffinity(o runtime.Object) string {
	if a := o.(*v3.IPAMBlock).Spec.Affinity; a != nil {
		return *a
	}
	return ""
}

func order(o *float64) string {
	if o == nil {
		return ""
	}
	return strconv.FormatFloat(*o, 'f', -1, 64)
}

func boolPtr(b *bool, unset string) string {
	if b == nil {
		return unset
	}
	return strconv.FormatBool(*b)
}
