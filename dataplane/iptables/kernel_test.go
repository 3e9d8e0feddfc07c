package iptables

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/backendtest"
	"github.com/palisadenet/palisade/internal/netnstest"
)

// installedModes is every backend whose commands are on PATH; the test skips naming
// what is missing when there is none.
func installedModes(t testing.TB) []Mode {
	t.Helper()
	var modes []Mode
	for _, m := range []Mode{ModeLegacy, ModeNFT} {
		if binariesFor(m).available() {
			modes = append(modes, m)
		}
	}
	if len(modes) == 0 {
		t.Skip("needs iptables-legacy or iptables-nft (with -save, -restore and ip6tables variants) on PATH")
	}
	return modes
}

var tools = []string{"ipset"}

func newDataplane(t testing.TB, ns *netnstest.NS, mode Mode) *Dataplane {
	t.Helper()
	dp, err := New(zaptest.NewLogger(t), WithNetNS(ns.Path()), WithMode(mode))
	if err != nil {
		t.Fatal(err)
	}
	return dp
}

// TestPacketScenarios runs the backend-neutral packet scenarios with each installed
// iptables backend.
func TestPacketScenarios(t *testing.T) {
	for _, mode := range installedModes(t) {
		t.Run(string(mode), func(t *testing.T) {
			backendtest.Run(t, tools, func(t *testing.T, ns *netnstest.NS) backendtest.Backend {
				return newDataplane(t, ns, mode)
			})
		})
	}
}

// node is a scenario node programmed by an iptables Dataplane.
type node struct {
	*backendtest.Node
	dp *Dataplane
}

func newNode(t *testing.T, mode Mode) *node {
	var dp *Dataplane
	n := backendtest.NewNode(t, tools, func(t *testing.T, ns *netnstest.NS) backendtest.Backend {
		dp = newDataplane(t, ns, mode)
		return dp
	})
	return &node{Node: n, dp: dp}
}

func (n *node) save(t *testing.T, mode Mode, fam Family) string {
	t.Helper()
	return n.NS.MustRun(t, binariesFor(mode).save[famIndex(fam)], "-t", "filter")
}

func (n *node) iptables(t *testing.T, mode Mode, args ...string) {
	t.Helper()
	n.NS.MustRun(t, append([]string{"iptables-" + string(mode)}, args...)...)
}

type probe = backendtest.Probe

var addrB, addrA, addrC = backendtest.AddrB, backendtest.AddrA, backendtest.AddrC

func forEachMode(t *testing.T, fn func(t *testing.T, mode Mode)) {
	for _, mode := range installedModes(t) {
		t.Run(string(mode), func(t *testing.T) { fn(t, mode) })
	}
}

// TestCoexistsWithOtherRules: a user rule and a Docker-like chain in the same table
// stay untouched; our jumps go (and stay) at the top.
func TestCoexistsWithOtherRules(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode Mode) {
		n := newNode(t, mode)
		n.iptables(t, mode, "-N", "DOCKER-USER")
		n.iptables(t, mode, "-A", "DOCKER-USER", "-s", "192.0.2.0/24", "-j", "RETURN")
		n.iptables(t, mode, "-A", "FORWARD", "-j", "DOCKER-USER")
		n.iptables(t, mode, "-A", "INPUT", "-p", "tcp", "--dport", "2222", "-j", "DROP")
		n.Apply(t, backendtest.AllowFromSetState()...)
		out := n.save(t, mode, IPv4)
		for _, want := range []string{
			"-A DOCKER-USER -s 192.0.2.0/24 -j RETURN",
			"-A FORWARD -j DOCKER-USER",
			"-A INPUT -p tcp -m tcp --dport 2222 -j DROP",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("other software's rule %q gone:\n%s", want, out)
			}
		}
		for _, j := range filterJumps {
			first := firstRule(out, j.Builtin)
			if !strings.Contains(first, JumpComment) || !strings.HasSuffix(first, "-j "+j.Chain) {
				t.Errorf("first rule of %s is %q, want our jump to %s", j.Builtin, first, j.Chain)
			}
		}
		// A rule inserted above ours pushes our jump down: the resync puts it back on top.
		n.iptables(t, mode, "-I", "FORWARD", "1", "-s", "198.51.100.0/24", "-j", "ACCEPT")
		if err := n.dp.Resync(); err != nil {
			t.Fatal(err)
		}
		out = n.save(t, mode, IPv4)
		if first := firstRule(out, "FORWARD"); !strings.Contains(first, JumpComment) {
			t.Errorf("after resync first FORWARD rule is %q", first)
		}
		if strings.Count(out, "-j "+ChainForward) != 1 {
			t.Errorf("want exactly one jump to %s:\n%s", ChainForward, out)
		}
		if !strings.Contains(out, "-A FORWARD -s 198.51.100.0/24 -j ACCEPT") {
			t.Errorf("the user's inserted rule is gone:\n%s", out)
		}
		n.Check(t, probe{From: "c", Proto: "tcp", Dst: addrB, Port: 8080}, probe{From: "a", Proto: "tcp", Dst: addrB, Port: 8080, Allowed: true})
	})
}

func firstRule(save, chain string) string {
	for _, l := range strings.Split(save, "\n") {
		if strings.HasPrefix(l, "-A "+chain+" ") {
			return l
		}
	}
	return ""
}

// TestResyncRepairsDrift: a removed jump, a flushed chain and a destroyed set are
// repaired by the next resync, rewriting only what drifted.
func TestResyncRepairsDrift(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode Mode) {
		n := newNode(t, mode)
		n.Apply(t, backendtest.AllowFromSetState()...)
		if err := n.dp.Resync(); err != nil {
			t.Fatal(err)
		}
		if st := n.dp.Stats(); st.Repairs != 0 || st.Batches != 1 {
			t.Fatalf("resync without drift: stats %+v, want no repair and one batch", st)
		}
		// Our jump removed: the pods are open.
		n.iptables(t, mode, "-D", "FORWARD", "1")
		n.Check(t, probe{From: "c", Proto: "tcp", Dst: addrB, Port: 8080, Allowed: true})
		if err := n.dp.Resync(); err != nil {
			t.Fatal(err)
		}
		if st, last := n.dp.Stats(), n.dp.LastBatch(); st.Repairs != 1 || last.ChainsWritten != 0 {
			t.Errorf("after removed jump: stats %+v, last %+v; want one repair writing no chain", st, last)
		}
		n.Check(t, probe{From: "c", Proto: "tcp", Dst: addrB, Port: 8080}, probe{From: "a", Proto: "tcp", Dst: addrB, Port: 8080, Allowed: true})

		// A flushed endpoint chain: only it is rewritten.
		n.iptables(t, mode, "-F", EndpointChainName(backendtest.IfaceB, true))
		if err := n.dp.Resync(); err != nil {
			t.Fatal(err)
		}
		if last := n.dp.LastBatch(); last.ChainsWritten != 1 {
			t.Errorf("after flushed chain: last batch %+v, want one chain written (IPv4)", last)
		}
		n.Check(t, probe{From: "c", Proto: "tcp", Dst: addrB, Port: 8080})

		// A rule appended to one of our chains by someone else is drift too.
		n.iptables(t, mode, "-I", EndpointChainName(backendtest.IfaceB, true), "1", "-j", "ACCEPT")
		n.Check(t, probe{From: "c", Proto: "tcp", Dst: addrB, Port: 8080, Allowed: true})
		if err := n.dp.Resync(); err != nil {
			t.Fatal(err)
		}
		n.Check(t, probe{From: "c", Proto: "tcp", Dst: addrB, Port: 8080})
		// Incremental updates keep working after repairs.
		n.Apply(t, &dataplane.SetDelta{ID: "sel-allowed", Added: []dataplane.SetMember{{Prefix: prefix32(addrC)}}})
		n.Check(t, probe{From: "c", Proto: "tcp", Dst: addrB, Port: 8080, Allowed: true})
	})
}

func prefix32(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// TestRestartAdoptsRules: a new Dataplane (an agent restart) finds our chains by their
// comments and rewrites none of them; traffic keeps its verdicts throughout.
func TestRestartAdoptsRules(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode Mode) {
		n := newNode(t, mode)
		objs := backendtest.UpdatesOf(backendtest.AllowFromSetState()...)
		n.Apply(t, backendtest.AllowFromSetState()...)
		before := n.save(t, mode, IPv4)
		restarted := newDataplane(t, n.NS, mode)
		if err := restarted.Apply(objs); err != nil {
			t.Fatal(err)
		}
		if last := restarted.LastBatch(); last.ChainsWritten != 0 || last.ChainsDeleted != 0 || last.JumpsFixed != 0 {
			t.Errorf("restart batch %+v: want no chain written or deleted", last)
		}
		if after := n.save(t, mode, IPv4); stripSaveComments(after) != stripSaveComments(before) {
			t.Errorf("restart changed the table:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		n.Check(t, probe{From: "c", Proto: "tcp", Dst: addrB, Port: 8080}, probe{From: "a", Proto: "tcp", Dst: addrB, Port: 8080, Allowed: true})
		// A restart with a changed policy rewrites that policy's chains only.
		objs2 := backendtest.AllowFromSetState()
		p := objs2[1].(*dataplane.Policy)
		p.Inbound[0].Destination.Ports[0] = dataplane.PortRange{First: 9090, Last: 9090}
		third := newDataplane(t, n.NS, mode)
		if err := third.Apply(backendtest.UpdatesOf(objs2...)); err != nil {
			t.Fatal(err)
		}
		if last := third.LastBatch(); last.ChainsWritten != 2 { // IPv4 and IPv6 cali-pi-...
			t.Errorf("restart with one changed policy: %+v, want its inbound chain written in both families", last)
		}
		n.Check(t, probe{From: "a", Proto: "tcp", Dst: addrB, Port: 9090, Allowed: true}, probe{From: "a", Proto: "tcp", Dst: addrB, Port: 8080})
	})
}

// stripSaveComments drops iptables-save's timestamp lines.
func stripSaveComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func requireBothModes(t *testing.T) {
	if modes := installedModes(t); len(modes) < 2 {
		t.Skipf("needs both iptables-legacy and iptables-nft; installed: %v", modes)
	}
}

// TestSwitchingBackendCleansUp: programming with one backend removes our chains and
// jumps left in the other one, and nothing else there.
func TestSwitchingBackendCleansUp(t *testing.T) {
	requireBothModes(t)
	n := newNode(t, ModeLegacy)
	n.iptables(t, ModeLegacy, "-A", "INPUT", "-p", "tcp", "--dport", "2222", "-j", "DROP")
	n.Apply(t, backendtest.AllowFromSetState()...)
	if !strings.Contains(n.save(t, ModeLegacy, IPv4), ChainForward) {
		t.Fatal("legacy has no chains of ours to start with")
	}
	nft := newDataplane(t, n.NS, ModeNFT)
	if err := nft.Apply(backendtest.UpdatesOf(backendtest.AllowFromSetState()...)); err != nil {
		t.Fatal(err)
	}
	for _, fam := range Families {
		legacy := n.save(t, ModeLegacy, fam)
		if strings.Contains(legacy, ChainPrefix) || strings.Contains(legacy, CommentPrefix) {
			t.Errorf("IPv%d legacy still has our rules:\n%s", fam, legacy)
		}
	}
	if !strings.Contains(n.save(t, ModeLegacy, IPv4), "--dport 2222 -j DROP") {
		t.Error("the user's legacy rule was removed")
	}
	n.Check(t, probe{From: "c", Proto: "tcp", Dst: addrB, Port: 8080}, probe{From: "a", Proto: "tcp", Dst: addrB, Port: 8080, Allowed: true})
}

// TestDetectsHostBackend: with no configured mode the Dataplane follows the backend
// holding the host's rules.
func TestDetectsHostBackend(t *testing.T) {
	netnstest.Require(t, tools...)
	requireBothModes(t)
	for _, host := range []Mode{ModeLegacy, ModeNFT} {
		t.Run(string(host), func(t *testing.T) {
			ns := netnstest.New(t, "detect")
			for i := 0; i < 3; i++ {
				ns.MustRun(t, "iptables-"+string(host), "-A", "INPUT", "-s", fmt.Sprintf("192.0.2.%d", i), "-j", "ACCEPT")
			}
			dp, err := New(zaptest.NewLogger(t), WithNetNS(ns.Path()))
			if err != nil {
				t.Fatal(err)
			}
			if err := dp.Apply([]dataplane.Update{{InSync: true}}); err != nil {
				t.Fatal(err)
			}
			if got := dp.Stats().Mode; got != host {
				t.Errorf("detected %q, want %q", got, host)
			}
			if out := ns.MustRun(t, binariesFor(host).save[0], "-t", "filter"); !strings.Contains(out, JumpComment) {
				t.Errorf("our jumps are not in the host's backend:\n%s", out)
			}
		})
	}
}

// TestUninstall: everything of ours goes (chains, jumps, sets, in both backends), the
// user's rules stay, and the pods are no longer judged.
func TestUninstall(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode Mode) {
		n := newNode(t, mode)
		n.iptables(t, mode, "-A", "INPUT", "-p", "tcp", "--dport", "2222", "-j", "DROP")
		n.NS.MustRun(t, "ipset", "create", "user-set", "hash:ip")
		n.Apply(t, backendtest.AllowFromSetState()...)
		n.Check(t, probe{From: "c", Proto: "tcp", Dst: addrB, Port: 8080})
		if err := Uninstall(zaptest.NewLogger(t), WithNetNS(n.NS.Path())); err != nil {
			t.Fatal(err)
		}
		for _, fam := range Families {
			if s := n.save(t, mode, fam); strings.Contains(s, ChainPrefix) || strings.Contains(s, CommentPrefix) {
				t.Errorf("IPv%d still has our rules:\n%s", fam, s)
			}
		}
		if s := n.save(t, mode, IPv4); !strings.Contains(s, "--dport 2222 -j DROP") {
			t.Errorf("the user's rule is gone:\n%s", s)
		}
		if sets := n.NS.MustRun(t, "ipset", "list", "-n"); strings.TrimSpace(sets) != "user-set" {
			t.Errorf("ipsets after uninstall: %q, want only the user's", sets)
		}
		n.Check(t, probe{From: "c", Proto: "tcp", Dst: addrB, Port: 8080, Allowed: true})
	})
}
