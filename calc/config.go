package calc

import (
	"fmt"
	"net/netip"
	"strings"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/dataplane"
)

// felixSettings are the settings one FelixConfiguration sets; nil fields are unset.
type felixSettings struct {
	endpointToHost                    *dataplane.Action
	failsafeInbound, failsafeOutbound []dataplane.FailsafePort
}

// onFelixConfiguration keeps each FelixConfiguration's dataplane settings; field by
// field, as Felix merges them, the node's own ("node.<name>") win over the
// cluster's ("default").
func (g *Graph) onFelixConfiguration(u datastore.Update) error {
	if u.Object == nil {
		delete(g.config, u.Key.Name)
		delete(g.invalid, u.Key)
		g.out.configDirty = true
		return nil
	}
	obj, ok := u.Object.(*v3.FelixConfiguration)
	if !ok {
		return typeError(u, "*v3.FelixConfiguration")
	}
	s, problems := settingsOf(&obj.Spec)
	g.setInvalid(u.Key, problems)
	g.config[u.Key.Name] = s
	g.out.configDirty = true
	return nil
}

// settingsOf reads the settings a FelixConfiguration spec sets, and its problems
// (field path and detail). Invalid values fail closed: an unknown endpoint-to-host
// action drops, a bad failsafe entry is left out.
func settingsOf(spec *v3.FelixConfigurationSpec) (*felixSettings, []string) {
	s := &felixSettings{}
	var problems []string
	action := func(a dataplane.Action) { s.endpointToHost = &a }
	switch spec.DefaultEndpointToHostAction {
	case "":
	case "Accept":
		action(dataplane.ActionAllow)
	case "Drop":
		action(dataplane.ActionDeny)
	case "Return":
		action(dataplane.ActionPass)
	default:
		problems = append(problems, "spec.defaultEndpointToHostAction: want Drop, Accept or Return, got "+spec.DefaultEndpointToHostAction)
		action(dataplane.ActionDeny)
	}
	var p []string
	s.failsafeInbound, p = failsafePorts(spec.FailsafeInboundHostPorts, "spec.failsafeInboundHostPorts")
	problems = append(problems, p...)
	s.failsafeOutbound, p = failsafePorts(spec.FailsafeOutboundHostPorts, "spec.failsafeOutboundHostPorts")
	return s, append(problems, p...)
}

// EffectiveConfig is the dataplane configuration of node given the
// FelixConfiguration specs by object name: each setting from "node.<node>" if it
// sets it, else from "default", else the default (Accept, default failsafe ports).
func EffectiveConfig(node string, specs map[string]*v3.FelixConfigurationSpec) *dataplane.Config {
	settings := map[string]*felixSettings{}
	for name, spec := range specs {
		settings[name], _ = settingsOf(spec)
	}
	return mergeSettings(settings["default"], settings["node."+node])
}

// mergeSettings lays the node's settings over the cluster's.
func mergeSettings(layers ...*felixSettings) *dataplane.Config {
	c := &dataplane.Config{EndpointToHostAction: dataplane.ActionAllow}
	for _, s := range layers {
		if s == nil {
			continue
		}
		if s.endpointToHost != nil {
			c.EndpointToHostAction = *s.endpointToHost
		}
		if s.failsafeInbound != nil {
			c.FailsafeInbound = s.failsafeInbound
		}
		if s.failsafeOutbound != nil {
			c.FailsafeOutbound = s.failsafeOutbound
		}
	}
	return c
}

// failsafePorts converts a failsafe list. nil (unset) stays nil, meaning the
// defaults; a present list, even empty, is exactly the ports it names. The protocol
// defaults to TCP, as in Felix; net is a CIDR or an address.
func failsafePorts(in []v3.ProtoPort, field string) ([]dataplane.FailsafePort, []string) {
	if in == nil {
		return nil, nil
	}
	out := make([]dataplane.FailsafePort, 0, len(in))
	var problems []string
	for i, pp := range in {
		fp := dataplane.FailsafePort{Port: pp.Port}
		switch strings.ToLower(pp.Protocol) {
		case "", "tcp":
			fp.Protocol = 6
		case "udp":
			fp.Protocol = 17
		case "sctp":
			fp.Protocol = 132
		default:
			problems = append(problems, fmt.Sprintf("%s[%d].protocol: want TCP, UDP or SCTP, got %q", field, i, pp.Protocol))
			continue
		}
		if pp.Net != "" {
			n, err := parseNet(pp.Net)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s[%d].net: %v", field, i, err))
				continue
			}
			fp.Net = n
		}
		out = append(out, fp)
	}
	return out, problems
}

// parseNet reads a CIDR or a single address as a masked prefix.
func parseNet(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither a CIDR nor an IP address", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// effectiveConfig is the node's configuration: its own settings over the cluster's.
func (g *Graph) effectiveConfig() *dataplane.Config {
	return mergeSettings(g.config["default"], g.config["node."+g.node])
}
