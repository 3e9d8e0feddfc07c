package nftables

import (
	"errors"
	"testing"

	"github.com/palisadenet/palisade/dataplane"
)

// TestKernelRejectedPolicyFailsClosedOnlyItsEndpoints: when the kernel rejects one
// policy's chain, that policy becomes a drop (its endpoint fails closed), the rest of
// the batch is applied, and the error names the policy.
func TestKernelRejectedPolicyFailsClosedOnlyItsEndpoints(t *testing.T) {
	n := newNode(t)
	bad := pid("default", "ns/bad")
	testBreakPolicy = func(id dataplane.PolicyID) bool { return id == bad }
	t.Cleanup(func() { testBreakPolicy = nil })

	allowAll := func(id dataplane.PolicyID) *dataplane.Policy {
		return &dataplane.Policy{ID: id, Inbound: []dataplane.Rule{{ID: id.Name + "/0", Action: dataplane.ActionAllow}}}
	}
	good := pid("default", "ns/good")
	err := n.dp.Apply(updatesOf(allowAll(good), allowAll(bad), allowProfile("ns"), wl("ns/a", ifaceA),
		wl("ns/b", ifaceB, ingressTier("default", dataplane.ActionDeny, good)),
		wl("ns/c", ifaceC, ingressTier("default", dataplane.ActionDeny, bad))))
	var qerr *QuarantineError
	if !errors.As(err, &qerr) {
		t.Fatalf("Apply error = %v, want a QuarantineError", err)
	}
	if _, ok := qerr.Rejected[policyOwner(bad)]; !ok || len(qerr.Rejected) != 1 {
		t.Errorf("rejected = %v, want only %s", qerr.Rejected, bad)
	}
	if st := n.dp.Stats(); st.Quarantined != 1 {
		t.Errorf("stats %+v, want 1 quarantined", st)
	}
	n.check(t, probe{"a", "tcp", addrB, 8080, true}, probe{"a", "icmp", addrC, 0, false})

	// A fixed policy is tried again when it is updated.
	testBreakPolicy = nil
	n.apply(t, allowAll(bad))
	if st := n.dp.Stats(); st.Quarantined != 0 {
		t.Errorf("stats %+v after fix, want none quarantined", st)
	}
	n.check(t, probe{"a", "icmp", addrC, 0, true})
}

// TestDuplicateInterfaceKeepsFirstEndpoint: a second endpoint claiming an interface
// already in use is not programmed; the first keeps working.
func TestDuplicateInterfaceKeepsFirstEndpoint(t *testing.T) {
	n := newNode(t)
	n.apply(t, allowProfile("ns"), wl("ns/a", ifaceA), wl("ns/b", ifaceB))
	n.apply(t, wl("ns/b-dup", ifaceB))
	n.check(t, probe{"a", "tcp", addrB, 8080, true})
	n.apply(t, "ns/b-dup") // removing the duplicate leaves b alone
	n.check(t, probe{"a", "tcp", addrB, 8080, true})
}
