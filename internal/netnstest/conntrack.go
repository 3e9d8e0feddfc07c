package netnstest

import (
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// FlushConntrack deletes every conntrack entry (IPv4 and IPv6) in the namespace, so
// probes that follow are new flows that policy must decide, not replies or repeats of
// flows an earlier ruleset allowed.
func (n *NS) FlushConntrack() error {
	return n.Do(func() error {
		c, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
		if err != nil {
			return fmt.Errorf("opening ctnetlink in %s: %w", n.Name, err)
		}
		defer c.Close()
		// nfgenmsg: family AF_UNSPEC (every family), version 0, resource id 0.
		msg := netlink.Message{
			Header: netlink.Header{
				Type:  netlink.HeaderType(unix.NFNL_SUBSYS_CTNETLINK<<8 | ipctnlMsgCtDelete),
				Flags: netlink.Request | netlink.Acknowledge,
			},
			Data: []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0},
		}
		if _, err := c.Execute(msg); err != nil {
			return fmt.Errorf("flushing conntrack in %s: %w", n.Name, err)
		}
		return nil
	})
}

// ipctnlMsgCtDelete is IPCTNL_MSG_CT_DELETE (linux/netfilter/nfnetlink_conntrack.h).
const ipctnlMsgCtDelete = 2
