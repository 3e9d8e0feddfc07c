package bgp

import (
	"net/netip"
	"strings"
	"time"
)

// PeerStatus is one row of `palisadectl node status`.
type PeerStatus struct {
	Address netip.Addr
	Type    PeerType
	State   string    // "up", "start" or "down", as BIRD words it
	Since   time.Time // last state change
	Info    string    // "Established", or the FSM state while not up
}

// NodeStatus is what the node agent exposes locally for the CLI.
type NodeStatus struct {
	Running bool
	Peers   []PeerStatus
}

// ProductName starts the first line of the status.
const ProductName = "Palisade"

// RenderNodeStatus prints s in the format users know from calicoctl: a line saying
// whether the process runs, then one table per address family. now decides whether
// Since shows a time of day (same day) or a date.
func RenderNodeStatus(s NodeStatus, now time.Time) string {
	var b strings.Builder
	if !s.Running {
		b.WriteString(ProductName + " process is not running.\n")
		return b.String()
	}
	b.WriteString(ProductName + " process is running.\n")
	for _, fam := range []struct {
		name string
		is4  bool
	}{{"IPv4", true}, {"IPv6", false}} {
		b.WriteString("\n" + fam.name + " BGP status\n")
		var rows [][]string
		for _, p := range s.Peers {
			if p.Address.Is4() == fam.is4 {
				rows = append(rows, []string{p.Address.String(), string(p.Type), p.State, formatSince(p.Since, now), p.Info})
			}
		}
		if len(rows) == 0 {
			b.WriteString("No " + fam.name + " peers found.\n")
			continue
		}
		writeTable(&b, []string{"PEER ADDRESS", "PEER TYPE", "STATE", "SINCE", "INFO"}, rows)
	}
	return b.String()
}

func formatSince(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	y1, m1, d1 := t.Date()
	y2, m2, d2 := now.In(t.Location()).Date()
	if y1 == y2 && m1 == m2 && d1 == d2 {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02")
}

// writeTable draws a boxed table: headers centred, cells left-aligned, one space of
// padding on each side of the widest entry of a column.
func writeTable(b *strings.Builder, headers []string, rows [][]string) {
	widths := make([]int, len(headers))
	for i, h := range headers {
		widths[i] = len(h)
		for _, r := range rows {
			widths[i] = max(widths[i], len(r[i]))
		}
		widths[i] += 2
	}
	rule := func() {
		for _, w := range widths {
			b.WriteString("+" + strings.Repeat("-", w))
		}
		b.WriteString("+\n")
	}
	rule()
	for i, h := range headers {
		pad := widths[i] - len(h)
		b.WriteString("|" + strings.Repeat(" ", pad/2) + h + strings.Repeat(" ", pad-pad/2))
	}
	b.WriteString("|\n")
	rule()
	for _, r := range rows {
		for i, c := range r {
			b.WriteString("| " + c + strings.Repeat(" ", widths[i]-len(c)-1))
		}
		b.WriteString("|\n")
	}
	rule()
}
