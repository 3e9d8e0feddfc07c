package iptables

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/palisadenet/palisade/dataplane/desired"
	"os/exec"
	"runtime"
	"strings"

	goipt "github.com/coreos/go-iptables/iptables"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// Mode is the iptables backend: the kernel's legacy x_tables or nf_tables (iptables-nft).
type Mode string

// The two backends, and automatic detection.
const (
	ModeAuto   Mode = ""
	ModeLegacy Mode = "legacy"
	ModeNFT    Mode = "nft"
)

// Runner runs one command (name and args, stdin) in the network namespace the
// Dataplane programs and returns its standard output.
type Runner interface {
	Run(stdin, name string, args ...string) (string, error)
}

// execRunner runs commands with os/exec, inside a network namespace when netns is set.
type execRunner struct {
	netns string // path of a network namespace (e.g. /var/run/netns/x); "" for the current one
}

// Run runs the command and returns its stdout; the error carries stderr.
func (r execRunner) Run(stdin, name string, args ...string) (string, error) {
	var out string
	err := r.Do(func() error {
		cmd := exec.Command(name, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if stdin != "" {
			cmd.Stdin = strings.NewReader(stdin)
		}
		err := cmd.Run()
		out = stdout.String()
		if err != nil {
			return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
		}
		return nil
	})
	return out, err
}

// Do runs fn with the calling OS thread in the namespace: processes fn starts inherit
// it. The thread is locked and never unlocked, so the runtime discards it afterwards
// instead of reusing a thread in the wrong namespace.
func (r execRunner) Do(fn func() error) error {
	if r.netns == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open(r.netns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("opening netns %s: %w", r.netns, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("entering netns %s: %w", r.netns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// binaries are the commands of one backend.
type binaries struct {
	mode           Mode
	save, restore  [2]string // by family index: IPv4, IPv6
	iptables       string    // the plain command, for go-iptables
	hasRandomFully bool
}

func famIndex(f Family) int {
	if f == IPv6 {
		return 1
	}
	return 0
}

func binariesFor(m Mode) binaries {
	return binaries{mode: m,
		save:     [2]string{"iptables-" + string(m) + "-save", "ip6tables-" + string(m) + "-save"},
		restore:  [2]string{"iptables-" + string(m) + "-restore", "ip6tables-" + string(m) + "-restore"},
		iptables: "iptables-" + string(m),
	}
}

// available reports whether every command of the backend is on PATH.
func (b binaries) available() bool {
	for _, c := range []string{b.save[0], b.save[1], b.restore[0], b.restore[1], b.iptables} {
		if _, err := exec.LookPath(c); err != nil {
			return false
		}
	}
	return true
}

// probe runs the backend's iptables through go-iptables in the namespace: it checks
// the binary works and learns what it supports.
func (b *binaries) probe(r execRunner) error {
	return r.Do(func() error {
		ipt, err := goipt.New(goipt.Path(b.iptables))
		if err != nil {
			return fmt.Errorf("probing %s: %w", b.iptables, err)
		}
		b.hasRandomFully = ipt.HasRandomFully()
		return nil
	})
}

// hintChains are created by kubelet in the backend it uses (as kube-proxy's
// iptables-wrapper checks): their presence settles the choice.
var hintChains = []string{":KUBE-IPTABLES-HINT ", ":KUBE-KUBELET-CANARY "}

// hostRules counts the rules of other software (not ours) in every table a backend
// has loaded, both families, and reports whether kubelet's hint chains or our own
// rules are there. Plain `*-save` dumps only tables that exist, so looking creates
// nothing.
func hostRules(r Runner, b binaries) (count int, hinted, ours bool) {
	for _, save := range b.save {
		out, err := r.Run("", save)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(out, "\n") {
			switch {
			case strings.HasPrefix(line, "-A ") && strings.Contains(line, CommentPrefix):
				ours = true
			case strings.HasPrefix(line, "-A "):
				count++
			case strings.HasPrefix(line, ":"):
				for _, h := range hintChains {
					if strings.HasPrefix(line, h) {
						hinted = true
					}
				}
			}
		}
	}
	return count, hinted, ours
}

// detectMode follows the backend the host uses, as kube-proxy does: kubelet's hint
// chains first, then whichever backend holds more rules of other software; on a tie,
// the one holding our rules from an earlier run, else nft.
func detectMode(r Runner, legacy, nft binaries) (Mode, string, error) {
	la, na := legacy.available(), nft.available()
	switch {
	case !la && !na:
		return "", "", errors.New("neither iptables-legacy nor iptables-nft (with -save, -restore and ip6tables) is on PATH")
	case !la:
		return ModeNFT, "only iptables-nft is installed", nil
	case !na:
		return ModeLegacy, "only iptables-legacy is installed", nil
	}
	nCount, nHint, nOurs := hostRules(r, nft)
	lCount, lHint, lOurs := hostRules(r, legacy)
	why := fmt.Sprintf("rules of other software: legacy %d, nft %d", lCount, nCount)
	switch {
	case nHint:
		return ModeNFT, "kubelet's hint chains are in nft", nil
	case lHint:
		return ModeLegacy, "kubelet's hint chains are in legacy", nil
	case lCount > nCount:
		return ModeLegacy, why, nil
	case nCount > lCount:
		return ModeNFT, why, nil
	case lOurs && !nOurs:
		return ModeLegacy, why + "; our rules are in legacy", nil
	}
	return ModeNFT, why + "; nft by default", nil
}

// cleanupOtherBackend removes our chains and jumps from the backend we do not use (a
// previous run may have used it). Failures are logged: they never block programming.
func (d *Dataplane) cleanupOtherBackend() {
	other := binariesFor(ModeNFT)
	if d.bins.mode == ModeNFT {
		other = binariesFor(ModeLegacy)
	}
	if _, real := d.run.(execRunner); real && !other.available() {
		return
	}
	n, err := removeRules(d.run, other)
	if err != nil {
		d.log.Warn("removing our rules from the other iptables backend failed", zap.String("backend", string(other.mode)), zap.Error(err))
	} else if n > 0 {
		d.log.Info("removed our rules from the other iptables backend", zap.String("backend", string(other.mode)), zap.Int("chains", n))
	}
}

// removeRules deletes our jumps and chains (both families, every table) from one
// backend, leaving everything else; it returns how many chains it deleted.
func removeRules(r Runner, b binaries) (int, error) {
	deleted := 0
	var errs []error
	for _, fam := range Families {
		i := famIndex(fam)
		out, err := r.Run("", b.save[i]) // only tables that exist: creates none
		if err != nil {
			continue // no such table or family: nothing of ours there
		}
		k := parseSave(out)
		fb := familyBatch{jumps: k.jumpFixes(nil)} // nil: none of our jumps wanted
		fb.deletes = desired.SortedKeys(k.chains)
		if fb.empty() {
			continue
		}
		text, _ := fb.text()
		if _, err := r.Run(text, b.restore[i], "--noflush", "--wait"); err != nil {
			errs = append(errs, fmt.Errorf("IPv%d %s: %w", fam, b.mode, err))
			continue
		}
		deleted += len(fb.deletes)
	}
	return deleted, errors.Join(errs...)
}

// Uninstall removes everything this package programs from the namespace the options
// name (the current one by default): our jumps and cali- chains from both iptables
// backends, then our ipsets. Other software's rules and sets stay. The agent calls it
// when a node switches to the nftables backend.
func Uninstall(log *zap.Logger, opts ...Option) error {
	d, err := New(log, opts...)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range []Mode{ModeLegacy, ModeNFT} {
		b := binariesFor(m)
		if _, real := d.run.(execRunner); real && !b.available() {
			continue
		}
		if n, err := removeRules(d.run, b); err != nil {
			errs = append(errs, err)
		} else if n > 0 {
			log.Info("removed our iptables rules", zap.String("backend", string(m)), zap.Int("chains", n))
		}
	}
	if len(errs) > 0 {
		// Sets still referenced by rules cannot go; keep them for a retry.
		return fmt.Errorf("removing iptables rules: %w", errors.Join(errs...))
	}
	out, err := d.run.Run("", "ipset", "list", "-n")
	if err != nil {
		return fmt.Errorf("listing ipsets: %w", err)
	}
	var destroy strings.Builder
	for _, name := range desired.SortedKeys(parseSetNames(out)) {
		destroy.WriteString("destroy " + name + "\n")
	}
	if destroy.Len() > 0 {
		if _, err := d.run.Run(destroy.String(), "ipset", "restore"); err != nil {
			return fmt.Errorf("destroying our ipsets: %w", err)
		}
	}
	return nil
}
