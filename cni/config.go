package cni

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
)

// Datastore types.
const (
	DatastoreKubernetes = "kubernetes"
	DatastoreFile       = "file"
)

// IPAMType is the ipam.type this plugin serves in-process. CalicoIPAMType is accepted
// as an alias so that a Calico conflist keeps working after the swap.
const (
	IPAMType       = "palisade-ipam"
	CalicoIPAMType = "calico-ipam"
)

// DefaultMTU is the veth MTU when the config gives none: a 1500-byte node NIC minus
// the 50 bytes VXLAN adds (outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14). It
// also fits IPIP (20 bytes), so one default is safe for every encapsulation; on
// native-routed or jumbo-frame clusters set mtu explicitly.
const DefaultMTU = 1450

// DefaultKubeconfig is where the installer writes the plugin's kubeconfig.
const DefaultKubeconfig = "/etc/cni/net.d/palisade-kubeconfig"

// NetConf is the plugin's entry in a conflist (Calico's field names).
type NetConf struct {
	types.PluginConf
	DatastoreType string         `json:"datastore_type,omitempty"`
	DatastoreDir  string         `json:"datastore_dir,omitempty"`
	Kubernetes    KubernetesConf `json:"kubernetes,omitzero"`
	Nodename      string         `json:"nodename,omitempty"`
	MTU           int            `json:"mtu,omitempty"`
	IPAM          IPAMConf       `json:"ipam"`
	// LogLevel is debug, info, warn (default) or error; logs go to stderr, which the
	// runtime keeps, or to LogFilePath when set.
	LogLevel    string `json:"log_level,omitempty"`
	LogFilePath string `json:"log_file_path,omitempty"`
}

// KubernetesConf says how to reach the API server in kubernetes mode.
type KubernetesConf struct {
	Kubeconfig string `json:"kubeconfig,omitempty"`
}

// IPAMConf is the ipam section.
type IPAMConf struct {
	Type       string    `json:"type"`
	AssignIPv4 *flexBool `json:"assign_ipv4,omitempty"`
	AssignIPv6 *flexBool `json:"assign_ipv6,omitempty"`
	// IPv4Pools and IPv6Pools restrict assignment to these pools (names or CIDRs)
	// unless the pod's annotations choose others.
	IPv4Pools []string `json:"ipv4_pools,omitempty"`
	IPv6Pools []string `json:"ipv6_pools,omitempty"`
}

// WantV4 and WantV6 say which families a pod gets (IPv4 only by default).
func (c IPAMConf) WantV4() bool { return c.AssignIPv4 == nil || bool(*c.AssignIPv4) }

// WantV6 is true when assign_ipv6 is set.
func (c IPAMConf) WantV6() bool { return c.AssignIPv6 != nil && bool(*c.AssignIPv6) }

// flexBool accepts true/false and Calico's "true"/"false" strings.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case bool:
		*b = flexBool(x)
	case string:
		switch strings.ToLower(x) {
		case "true":
			*b = true
		case "false":
			*b = false
		default:
			return fmt.Errorf("want true or false, got %q", x)
		}
	default:
		return fmt.Errorf("want true or false, got %s", data)
	}
	return nil
}

// Env is what the config falls back on outside stdin.
type Env struct {
	Getenv   func(string) string
	Hostname func() (string, error)
}

// OSEnv reads the process environment.
func OSEnv() Env { return Env{Getenv: os.Getenv, Hostname: os.Hostname} }

// ParseConfig decodes and checks the network configuration the runtime passed on
// stdin, filling in defaults. Errors are *types.Error with a message that says which
// field to fix.
func ParseConfig(stdin []byte, env Env) (*NetConf, error) {
	conf := &NetConf{}
	if err := json.Unmarshal(stdin, conf); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "parsing network configuration: "+err.Error(), "")
	}
	if err := conf.fillDefaults(env); err != nil {
		return nil, err
	}
	if err := conf.validate(); err != nil {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "invalid network configuration: "+err.Error(), "")
	}
	return conf, nil
}

func (c *NetConf) fillDefaults(env Env) error {
	if c.DatastoreType == "" {
		c.DatastoreType = DatastoreKubernetes
	}
	if c.DatastoreType == DatastoreKubernetes && c.Kubernetes.Kubeconfig == "" {
		c.Kubernetes.Kubeconfig = DefaultKubeconfig
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.LogLevel == "" {
		c.LogLevel = "warn"
	}
	if c.Nodename == "" && env.Getenv != nil {
		c.Nodename = env.Getenv("NODENAME")
	}
	if c.Nodename == "" && env.Hostname != nil {
		h, err := env.Hostname()
		if err != nil {
			return types.NewError(types.ErrInvalidNetworkConfig, "nodename not set and the hostname is unreadable: "+err.Error(), "set nodename in the config or NODENAME")
		}
		c.Nodename = h
	}
	return nil
}

func (c *NetConf) validate() error {
	if c.Name == "" {
		return fmt.Errorf("name is empty (the conflist's network name, e.g. k8s-pod-network)")
	}
	if !slices.Contains(SupportedVersions.SupportedVersions(), c.CNIVersion) {
		return fmt.Errorf("cniVersion %q: want one of %s", c.CNIVersion, strings.Join(SupportedVersions.SupportedVersions(), ", "))
	}
	switch c.DatastoreType {
	case DatastoreKubernetes:
	case DatastoreFile:
		if c.DatastoreDir == "" {
			return fmt.Errorf("datastore_type file needs datastore_dir (the manifest directory)")
		}
	default:
		return fmt.Errorf("datastore_type %q: want %q or %q", c.DatastoreType, DatastoreKubernetes, DatastoreFile)
	}
	if c.Nodename == "" {
		return fmt.Errorf("nodename is empty")
	}
	if c.MTU < 68 || c.MTU > 65535 {
		return fmt.Errorf("mtu %d out of range 68-65535", c.MTU)
	}
	if c.MTU < 1280 && c.IPAM.WantV6() {
		return fmt.Errorf("mtu %d is below IPv6's minimum of 1280", c.MTU)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "warning", "error":
	default:
		return fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel)
	}
	return c.IPAM.validate()
}

func (c IPAMConf) validate() error {
	switch c.Type {
	case IPAMType, CalicoIPAMType:
	case "":
		return fmt.Errorf("ipam.type is empty: want %q", IPAMType)
	default:
		return fmt.Errorf("ipam.type %q not supported: want %q", c.Type, IPAMType)
	}
	if !c.WantV4() && !c.WantV6() {
		return fmt.Errorf("ipam: assign_ipv4 and assign_ipv6 are both false, the pod would get no address")
	}
	if err := checkPools("ipam.ipv4_pools", c.IPv4Pools, true); err != nil {
		return err
	}
	return checkPools("ipam.ipv6_pools", c.IPv6Pools, false)
}

// checkPools accepts pool names and CIDRs of the right family.
func checkPools(field string, pools []string, v4 bool) error {
	for i, p := range pools {
		if p == "" {
			return fmt.Errorf("%s[%d] is empty", field, i)
		}
		if !strings.Contains(p, "/") {
			continue // a pool name
		}
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			return fmt.Errorf("%s[%d]: %q is neither a pool name nor a CIDR: %v", field, i, p, err)
		}
		if pfx.Addr().Is4() != v4 {
			return fmt.Errorf("%s[%d]: %s is the wrong IP family", field, i, p)
		}
	}
	return nil
}
