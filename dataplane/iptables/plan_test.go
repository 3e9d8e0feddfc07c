package iptables

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/backendtest"
)

// fakeRunner records commands instead of running them. Save commands return the
// stored save output; restore commands fail if fail returns an error.
type fakeRunner struct {
	saves map[string]string // command -> output
	cmds  []fakeCmd
	fail  func(c fakeCmd) error
}

type fakeCmd struct {
	name, stdin string
	args        []string
}

const emptyFilter = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"

func (f *fakeRunner) Run(stdin, name string, args ...string) (string, error) {
	c := fakeCmd{name: name, stdin: stdin, args: args}
	if f.fail != nil {
		if err := f.fail(c); err != nil {
			return "", err
		}
	}
	f.cmds = append(f.cmds, c)
	if out, ok := f.saves[name]; ok {
		return out, nil
	}
	if strings.HasSuffix(name, "-save") {
		return emptyFilter, nil
	}
	return "", nil
}

// restores are the recorded writes (ipset restore and iptables-restore), by command.
func (f *fakeRunner) restores() []fakeCmd {
	var out []fakeCmd
	for _, c := range f.cmds {
		if strings.HasSuffix(c.name, "-restore") || (c.name == "ipset" && c.args[0] == "restore") {
			out = append(out, c)
		}
	}
	return out
}

func newFake(t *testing.T) (*Dataplane, *fakeRunner) {
	f := &fakeRunner{saves: map[string]string{}}
	dp, err := New(zaptest.NewLogger(t), WithMode(ModeNFT), withRunner(f))
	if err != nil {
		t.Fatal(err)
	}
	return dp, f
}

func TestNothingRunsBeforeInSync(t *testing.T) {
	dp, f := newFake(t)
	u := backendtest.UpdatesOf(backendtest.AllowFromSetState()...)
	if err := dp.Apply(u[:len(u)-1]); err != nil {
		t.Fatal(err)
	}
	if err := dp.Resync(); err != nil {
		t.Fatal(err)
	}
	if len(f.cmds) != 0 {
		t.Fatalf("commands before InSync: %+v", f.cmds)
	}
	if err := dp.Apply(u[len(u)-1:]); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range f.restores() {
		names = append(names, c.name)
	}
	if diff := cmp.Diff([]string{"ipset", "iptables-nft-restore", "ip6tables-nft-restore"}, names); diff != "" {
		t.Errorf("first batch commands (-want +got):\n%s", diff)
	}
	v4 := f.restores()[1].stdin
	for _, want := range []string{":cali-FORWARD - [0:0]", `-I FORWARD 1 -m comment --comment "palisade:jump" -j cali-FORWARD`, "COMMIT"} {
		if !strings.Contains(v4, want) {
			t.Errorf("IPv4 restore input lacks %q:\n%s", want, v4)
		}
	}
	if args := strings.Join(f.restores()[1].args, " "); args != "--noflush --wait" {
		t.Errorf("restore args %q", args)
	}
}

func TestSetMemberChangeWritesOnlySetEntries(t *testing.T) {
	dp, f := newFake(t)
	if err := dp.Apply(backendtest.UpdatesOf(backendtest.AllowFromSetState()...)); err != nil {
		t.Fatal(err)
	}
	f.cmds = nil
	add := &dataplane.SetDelta{ID: "sel-allowed", Added: []dataplane.SetMember{{Prefix: netip.MustParsePrefix("10.65.0.3/32")}},
		Removed: []dataplane.SetMember{{Prefix: netip.MustParsePrefix("10.65.0.1/32")}}}
	if err := dp.Apply([]dataplane.Update{{SetDeltaUpdate: add}}); err != nil {
		t.Fatal(err)
	}
	name := SetName("sel-allowed", dataplane.SetKindNets, IPv4)
	want := []fakeCmd{{name: "ipset", args: []string{"restore"},
		stdin: "del -exist " + name + " 10.65.0.1/32\nadd -exist " + name + " 10.65.0.3/32\n"}}
	if diff := cmp.Diff(want, f.cmds, cmp.AllowUnexported(fakeCmd{})); diff != "" {
		t.Errorf("set-member change commands (-want +got):\n%s", diff)
	}
	if last := dp.LastBatch(); last != (BatchStats{EntryAdds: 1, EntryDeletes: 1, Commands: 1}) {
		t.Errorf("last batch %+v", last)
	}
}

func TestNewEndpointWritesOnlyItsChainsAndDispatch(t *testing.T) {
	dp, f := newFake(t)
	objs := backendtest.AllowFromSetState()
	if err := dp.Apply(backendtest.UpdatesOf(objs[:len(objs)-1]...)); err != nil { // without b
		t.Fatal(err)
	}
	f.cmds = nil
	if err := dp.Apply([]dataplane.Update{{EndpointUpdate: objs[len(objs)-1].(*dataplane.Endpoint)}}); err != nil {
		t.Fatal(err)
	}
	rs := f.restores()
	if len(rs) != 2 {
		t.Fatalf("want one restore per family, got %+v", rs)
	}
	for _, r := range rs {
		var declared []string
		for _, l := range strings.Split(r.stdin, "\n") {
			if strings.HasPrefix(l, ":") {
				declared = append(declared, strings.Fields(l)[0][1:])
			}
		}
		want := []string{ChainFromWorkload, "cali-fw-cali0000000000b", ChainToWorkload, "cali-tw-cali0000000000b"} // sorted
		if diff := cmp.Diff(want, declared); diff != "" {
			t.Errorf("%s wrote chains (-want +got):\n%s", r.name, diff)
		}
		if strings.Contains(r.stdin, "-I ") || strings.Contains(r.stdin, "-X ") {
			t.Errorf("%s touched jumps or deleted chains:\n%s", r.name, r.stdin)
		}
	}
	// Removing it deletes its chains after the dispatch no longer refers to them.
	f.cmds = nil
	if err := dp.Apply([]dataplane.Update{{EndpointRemove: "ns/b"}}); err != nil {
		t.Fatal(err)
	}
	v4 := f.restores()[0].stdin
	if !strings.Contains(v4, "-X cali-tw-cali0000000000b") || strings.Index(v4, "-A "+ChainToWorkload) > strings.Index(v4, "-X cali-tw-") {
		t.Errorf("endpoint removal:\n%s", v4)
	}
}

func TestRestartAdoptsIdenticalChains(t *testing.T) {
	dp, f := newFake(t)
	objs := backendtest.UpdatesOf(backendtest.AllowFromSetState()...)
	if err := dp.Apply(objs); err != nil {
		t.Fatal(err)
	}
	// What the kernel now shows, as iptables-save would print it.
	kernel := map[string]string{}
	for _, r := range f.restores() {
		if r.name != "ipset" {
			kernel[strings.Replace(r.name, "-restore", "-save", 1)] = savedAfter(r.stdin)
		}
	}
	second, f2 := newFake(t)
	f2.saves = kernel
	f2.saves["ipset"] = strings.Join(setNamesOf(f.restores()[0].stdin), "\n")
	if err := second.Apply(objs); err != nil {
		t.Fatal(err)
	}
	for _, r := range f2.restores() {
		if r.name != "ipset" {
			t.Errorf("restart rewrote chains with %s:\n%s", r.name, r.stdin)
		}
	}
}

// savedAfter turns a cold-start restore input into the iptables-save output of the
// kernel afterwards (rules as written, jumps appended to the built-ins).
func savedAfter(restore string) string {
	var b strings.Builder
	b.WriteString("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
	for _, l := range strings.Split(restore, "\n") {
		switch {
		case strings.HasPrefix(l, ":"):
			b.WriteString(l + "\n")
		case strings.HasPrefix(l, "-I "):
			f := strings.SplitN(l, " ", 4)
			b.WriteString("-A " + f[1] + " " + f[3] + "\n")
		case strings.HasPrefix(l, "-A "):
			b.WriteString(l + "\n")
		}
	}
	return b.String() + "COMMIT\n"
}

func setNamesOf(ipsetRestore string) []string {
	var out []string
	for _, l := range strings.Split(ipsetRestore, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "create" && f[1][5] == '0' {
			out = append(out, f[1])
		}
	}
	return out
}

func TestRejectedPolicyIsQuarantined(t *testing.T) {
	dp, f := newFake(t)
	bad := backendtest.PolicyWithRule("bad", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: backendtest.U8(6)})
	badChain := PolicyChainName(bad.ID, true)
	f.fail = func(c fakeCmd) error {
		if !strings.HasSuffix(c.name, "-restore") {
			return nil
		}
		for i, l := range strings.Split(c.stdin, "\n") {
			if strings.HasPrefix(l, "-A "+badChain+" ") && !strings.Contains(l, "fail closed") {
				return fmt.Errorf("exit status 1: %s: line %d failed", c.name, i+1)
			}
		}
		return nil
	}
	objs := append(backendtest.AllowFromSetState(), bad,
		backendtest.WL("ns/d", "cali0000000000d", backendtest.IngressTier("default", dataplane.ActionDeny, bad.ID)))
	err := dp.Apply(backendtest.UpdatesOf(objs...))
	if err != nil {
		t.Fatalf("Apply: %v (a rejected policy must not block the rest)", err)
	}
	if st := dp.Stats(); st.Quarantined != 1 {
		t.Errorf("stats %+v, want one quarantined policy", st)
	}
	last := f.restores()[len(f.restores())-1].stdin
	if !strings.Contains(last, "-A "+badChain+` -m comment --comment "palisade:`) || !strings.Contains(last, "fail closed: rejected by iptables") {
		t.Errorf("quarantined chain not a drop:\n%s", last)
	}
	if !strings.Contains(last, "-A "+PolicyChainName(backendtest.PID("default", "allow-from-set"), true)) {
		t.Errorf("other policies not programmed:\n%s", last)
	}
	// A new version of the policy gets another chance.
	f.fail = nil
	if err := dp.Apply([]dataplane.Update{{PolicyUpdate: bad}}); err != nil {
		t.Fatal(err)
	}
	if st := dp.Stats(); st.Quarantined != 0 {
		t.Errorf("stats %+v after a good update", st)
	}
}

func TestFailedRestoreKeepsWorkPending(t *testing.T) {
	dp, f := newFake(t)
	broken := errors.New("exit status 4: resource temporarily unavailable")
	f.fail = func(c fakeCmd) error {
		if c.name == "ip6tables-nft-restore" {
			return broken
		}
		return nil
	}
	if err := dp.Apply(backendtest.UpdatesOf(backendtest.AllowFromSetState()...)); !errors.Is(err, broken) {
		t.Fatalf("Apply error %v, want the restore error", err)
	}
	f.fail, f.cmds = nil, nil
	if err := dp.Resync(); err != nil {
		t.Fatal(err)
	}
	var ip6 bool
	for _, r := range f.restores() {
		ip6 = ip6 || r.name == "ip6tables-nft-restore"
	}
	if !ip6 {
		t.Errorf("resync after a failed batch did not retry IPv6: %+v", f.cmds)
	}
}

func TestParseSave(t *testing.T) {
	save := `# Generated by iptables-save
*nat
:POSTROUTING ACCEPT [0:0]
:cali-nat-outgoing - [0:0]
:cali-FORWARD - [0:0]
-A POSTROUTING -m comment --comment "palisade:jump" -j cali-nat-outgoing
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:cali-FORWARD - [0:0]
:cali-empty - [0:0]
-A INPUT -j ACCEPT
-A INPUT -m comment --comment "palisade:jump" -j cali-INPUT
-A FORWARD -m comment --comment "palisade:jump" -j cali-FORWARD
-A FORWARD -j DOCKER
-A FORWARD -m comment --comment palisade:jump -j cali-FORWARD
-A cali-FORWARD -m comment --comment "palisade:0123456789abcdef x" -j RETURN
-A cali-FORWARD -j ACCEPT
COMMIT
`
	k := parseSave(save)
	want := map[string][]string{"cali-FORWARD": {"0123456789abcdef", ""}, "cali-empty": {}, "cali-nat-outgoing": {}}
	if diff := cmp.Diff(want, k.chains); diff != "" {
		t.Errorf("chains (-want +got):\n%s", diff)
	}
	wantFixes := map[string][]string{
		"filter": {
			"-D INPUT 2", jumpRule(filterJumps[0]),
			"-D FORWARD 3", "-D FORWARD 1", jumpRule(filterJumps[1]),
			jumpRule(filterJumps[2]),
		},
		"nat": {"-D POSTROUTING 1"}, // not wanted without natOutgoing
	}
	if diff := cmp.Diff(wantFixes, k.jumpFixes(jumpsFor(false))); diff != "" {
		t.Errorf("jump fixes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{"filter": wantFixes["filter"]}, k.jumpFixes(jumpsFor(true))); diff != "" {
		t.Errorf("jump fixes with NAT (-want +got):\n%s", diff)
	}
}

func TestCulpritChain(t *testing.T) {
	lines := map[int]string{9: "cali-pi-x", 23: "cali-po-y"}
	for _, tc := range []struct{ msg, want string }{
		{"iptables-restore v1.8.9 (legacy): Couldn't load target `foo'\n\nError occurred at line: 9", "cali-pi-x"},
		{"iptables-nft-restore v1.8.9 (nf_tables): line 6: RULE_APPEND failed (Invalid argument): rule in chain cali-z", "cali-z"},
		{"iptables-restore: line 23 failed", "cali-po-y"},
		{"iptables-restore: line 2 failed", ""},
		{"exit status 4: lock held", ""},
	} {
		if got := culpritChain(errors.New(tc.msg), lines); got != tc.want {
			t.Errorf("culpritChain(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}

// TestEmptyStateStillHasDispatchChains: InSync with no endpoint at all must program
// the dispatch chains the base chains jump to (every cali* interface is dropped).
func TestEmptyStateStillHasDispatchChains(t *testing.T) {
	dp, f := newFake(t)
	if err := dp.Apply([]dataplane.Update{{InSync: true}}); err != nil {
		t.Fatal(err)
	}
	v4 := f.restores()[0].stdin
	for _, want := range []string{":" + ChainFromWorkload + " ", ":" + ChainToWorkload + " ", "unknown workload interface\" -j DROP"} {
		if !strings.Contains(v4, want) {
			t.Errorf("empty state lacks %q:\n%s", want, v4)
		}
	}
}
