package nftables

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"

	nft "github.com/google/nftables"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// decodeElements turns the elements the kernel lists for a named set or map of type t
// back into rendered Elements, so Resync can compare them with what it wrote.
func decodeElements(t SetType, els []nft.SetElement) (map[Element]struct{}, error) {
	out := make(map[Element]struct{}, len(els))
	switch t {
	case SetAddr4, SetAddr6:
		return decodeIntervals(els)
	case SetNamedPort4, SetNamedPort6:
		for _, el := range els {
			n := len(el.Key) - 8
			if n != 4 && n != 16 {
				return nil, fmt.Errorf("named-port key of %d bytes", len(el.Key))
			}
			a, _ := netip.AddrFromSlice(el.Key[:n])
			e := Element{Start: a, Proto: el.Key[n], Port: uint16(el.Key[n+4])<<8 | uint16(el.Key[n+5])}
			out[e] = struct{}{}
		}
	case SetIfaceVmap:
		// google/nftables does not decode an element's verdict when listing, so map
		// entries compare by interface only (see comparable).
		for _, el := range els {
			out[Element{Iface: string(bytes.TrimRight(el.Key, "\x00"))}] = struct{}{}
		}
	}
	return out, nil
}

// decodeIntervals pairs interval starts with their (exclusive) ends; a start with no
// end reaches the top of the address space.
func decodeIntervals(els []nft.SetElement) (map[Element]struct{}, error) {
	sorted := slices.Clone(els)
	slices.SortFunc(sorted, func(a, b nft.SetElement) int {
		if c := bytes.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		// At equal keys, the end of one range comes before the start of the next.
		switch {
		case a.IntervalEnd && !b.IntervalEnd:
			return -1
		case !a.IntervalEnd && b.IntervalEnd:
			return 1
		}
		return 0
	})
	out := make(map[Element]struct{}, len(els)/2+1)
	var open netip.Addr
	for _, el := range sorted {
		a, ok := netip.AddrFromSlice(el.Key)
		if !ok {
			return nil, fmt.Errorf("address key of %d bytes", len(el.Key))
		}
		switch {
		case el.IntervalEnd && open.IsValid():
			out[Element{Start: open, End: a.Prev()}] = struct{}{}
			open = netip.Addr{}
		case el.IntervalEnd:
			// An end with no start: the kernel's implicit range below the first element.
		case open.IsValid():
			return nil, fmt.Errorf("interval starting at %s has no end", open)
		default:
			open = a
		}
	}
	if open.IsValid() {
		out[Element{Start: open, End: lastAddr(netip.PrefixFrom(open, 0))}] = struct{}{}
	}
	return out, nil
}

// String shows an element for drift messages.
func (e Element) String() string {
	return fmt.Sprintf("%+v", struct {
		Start, End   netip.Addr
		Proto        uint8
		Port         uint16
		Iface, Chain string
	}(e))
}

// comparable is the part of an element decodeElements can read back.
func comparable(t SetType, e Element) Element {
	if t == SetIfaceVmap {
		e.Chain = ""
	}
	return e
}

// ruleDumper reads the rules of one chain of table inet palisade, decoding only what
// Resync compares (the userdata), not the expressions as google/nftables does. (One
// dump of the whole table would save round trips, but the kernel resumes a multi-part
// rule dump by walking the table from the start each time: quadratic, seconds at
// 60,000 rules.)
type ruleDumper struct {
	netnsFd int
	conn    *netlink.Conn
}

func (r *ruleDumper) open() error {
	if r.conn != nil {
		return nil
	}
	cfg := &netlink.Config{}
	if r.netnsFd >= 0 {
		cfg.NetNS = r.netnsFd
	}
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, cfg)
	if err != nil {
		return fmt.Errorf("opening nfnetlink socket: %w", err)
	}
	if err := c.SetReadBuffer(receiveBufferBytes); err != nil {
		_ = c.Close()
		return fmt.Errorf("sizing nfnetlink socket: %w", err)
	}
	r.conn = c
	return nil
}

func (r *ruleDumper) close() error {
	if r.conn == nil {
		return nil
	}
	err := r.conn.Close()
	r.conn = nil
	return err
}

// fingerprints returns the chain's rule fingerprints in rule order (0 for a rule
// without one).
func (r *ruleDumper) fingerprints(chain string) ([]uint32, error) {
	if err := r.open(); err != nil {
		return nil, err
	}
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_RULE_TABLE, Data: []byte(TableName + "\x00")},
		{Type: unix.NFTA_RULE_CHAIN, Data: []byte(chain + "\x00")},
	})
	if err != nil {
		return nil, err
	}
	req := netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETRULE),
			Flags: netlink.Request | netlink.Dump},
		// nfgenmsg: family inet, version 0, resource id 0.
		Data: append([]byte{byte(nft.TableFamilyINet), unix.NFNETLINK_V0, 0, 0}, attrs...),
	}
	msgs, err := r.conn.Execute(req)
	if err != nil {
		// A broken socket is reopened next time.
		_ = r.close()
		return nil, fmt.Errorf("dumping rules: %w", err)
	}
	out := make([]uint32, 0, len(msgs))
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return nil, fmt.Errorf("decoding rule: %w", err)
		}
		var fp uint32
		for ad.Next() {
			if ad.Type() == unix.NFTA_RULE_USERDATA {
				fp, _ = userdata.GetUint32(ad.Bytes(), udataFingerprint)
			}
		}
		if err := ad.Err(); err != nil {
			return nil, fmt.Errorf("decoding rule: %w", err)
		}
		out = append(out, fp)
	}
	return out, nil
}
