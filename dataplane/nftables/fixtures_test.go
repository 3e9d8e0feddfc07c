package nftables

import (
	"github.com/palisadenet/palisade/dataplane/backendtest"
	"github.com/palisadenet/palisade/dataplane/desired"
)

// Short names for the fixtures shared with the iptables backend's tests
// (dataplane/backendtest), used throughout this package's tests.
var (
	u8             = backendtest.U8
	pfx            = backendtest.Pfx
	netsSet        = backendtest.NetsSet
	namedPortSet   = backendtest.NamedPortSet
	newState       = desired.NewObjects
	allowProfile   = backendtest.AllowProfile
	workload       = backendtest.Workload
	pid            = backendtest.PID
	policyWithRule = backendtest.PolicyWithRule
)
