package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/palisadenet/palisade/ctl/client"
	"github.com/palisadenet/palisade/resource"
	"github.com/palisadenet/palisade/routing/ipam"
)

func newIPAMCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ipam",
		Short: "Show, check and repair IP address management state",
		Long: `Read the IPAM state (IP pools, the blocks nodes claimed from them, and the
allocation handles) from the datastore: show usage, check consistency, and release an
address by hand.`,
		Example: `  palisadectl ipam show --show-blocks
  palisadectl ipam check
  palisadectl ipam release --ip 10.244.1.7`,
	}
	cmd.AddCommand(newIPAMShowCommand(a), newIPAMCheckCommand(a), newIPAMReleaseCommand(a))
	return cmd
}

// allocator opens the IPAM store of the configured datastore.
func (a *app) allocator() (*ipam.Allocator, client.Config, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, cfg, err
	}
	var store ipam.Store
	if cfg.DatastoreType == client.DatastoreFile {
		store, err = ipam.NewFileStore(cfg.DatastoreDir, zap.NewNop())
	} else {
		rc, rerr := client.RESTConfig(cfg)
		if rerr != nil {
			return nil, cfg, rerr
		}
		store, err = ipam.NewKubernetesStore(rc, zap.NewNop())
	}
	if err != nil {
		return nil, cfg, fmt.Errorf("opening the IPAM store: %w", err)
	}
	return ipam.New(store, zap.NewNop()), cfg, nil
}

func newIPAMShowCommand(a *app) *cobra.Command {
	var showBlocks bool
	cmd := &cobra.Command{
		Use:   "show [--show-blocks]",
		Short: "Show how much of each IP pool (and block) is in use",
		Long: `Print one row per IP pool with its size, the addresses in use and those free, and
with --show-blocks one row per block nodes claimed from it (free excludes reserved
addresses).`,
		Example: `  palisadectl ipam show
  palisadectl ipam show --show-blocks`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			alloc, _, err := a.allocator()
			if err != nil {
				return err
			}
			u, err := alloc.Usage(cmd.Context())
			if err != nil {
				return err
			}
			writeUsage(cmd.OutOrStdout(), u, showBlocks)
			return nil
		},
	}
	cmd.Flags().BoolVar(&showBlocks, "show-blocks", false, "also show each block")
	return cmd
}

// writeUsage draws calicoctl's boxed usage table.
func writeUsage(w io.Writer, u ipam.Usage, showBlocks bool) {
	headers := []string{"GROUPING", "CIDR", "IPS TOTAL", "IPS IN USE", "IPS FREE"}
	var rows [][]string
	for _, p := range u.Pools {
		used := big.NewInt(int64(p.InUse))
		rows = append(rows, []string{"IP Pool", p.CIDR.String(), p.Size.String(), withPercent(used, p.Size), withPercent(p.Free, p.Size)})
		if !showBlocks {
			continue
		}
		for _, b := range u.Blocks {
			if b.Pool != p.Name {
				continue
			}
			rows = append(rows, blockRow(b))
		}
	}
	if showBlocks {
		for _, b := range u.Blocks {
			if b.Pool == "" {
				r := blockRow(b)
				r[0] = "Block (no pool)"
				rows = append(rows, r)
			}
		}
	}
	drawBox(w, headers, rows, []bool{false, false, true, false, false})
}

func blockRow(b ipam.BlockUsage) []string {
	size := big.NewInt(int64(b.Size))
	free := big.NewInt(int64(b.Size - b.InUse - b.Reserved))
	return []string{"Block", b.CIDR.String(), size.String(), withPercent(big.NewInt(int64(b.InUse)), size), withPercent(free, size)}
}

// withPercent prints "n (p%)", the percentage of total rounded down.
func withPercent(n, total *big.Int) string {
	if total.Sign() == 0 {
		return n.String() + " (0%)"
	}
	pct := new(big.Int).Mul(n, big.NewInt(100))
	pct.Quo(pct, total)
	return fmt.Sprintf("%s (%s%%)", n, pct)
}

// drawBox draws a table with +---+ borders; right[i] right-aligns column i.
func drawBox(w io.Writer, headers []string, rows [][]string, right []bool) {
	widths := make([]int, len(headers))
	for i, h := range headers {
		widths[i] = len(h)
		for _, r := range rows {
			widths[i] = max(widths[i], len(r[i]))
		}
	}
	rule := func() {
		for _, wd := range widths {
			fmt.Fprint(w, "+"+strings.Repeat("-", wd+2))
		}
		fmt.Fprintln(w, "+")
	}
	rule()
	for i, h := range headers {
		pad := widths[i] - len(h)
		fmt.Fprint(w, "| "+strings.Repeat(" ", pad/2)+h+strings.Repeat(" ", pad-pad/2)+" ")
	}
	fmt.Fprintln(w, "|")
	rule()
	for _, r := range rows {
		for i, cell := range r {
			pad := strings.Repeat(" ", widths[i]-len(cell))
			if right[i] {
				fmt.Fprint(w, "| "+pad+cell+" ")
			} else {
				fmt.Fprint(w, "| "+cell+pad+" ")
			}
		}
		fmt.Fprintln(w, "|")
	}
	rule()
}

func newIPAMCheckCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Find leaked addresses, orphaned blocks and double allocations",
		Long: `Check the IPAM state for problems: addresses allocated to pods that no longer
exist (leaks), addresses that could be handed out twice, blocks affine to nodes that
no longer exist (orphans), stale affinities, and handles whose counts disagree with
the blocks. Live pods and nodes are read from the datastore; when it holds none (a
file datastore without Pod or Node manifests) that check is skipped and said so.
Exits 1 when a problem is found.`,
		Example: `  palisadectl ipam check
  DATASTORE_TYPE=file DATASTORE_DIR=/etc/palisade/manifests palisadectl ipam check`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			alloc, cfg, err := a.allocator()
			if err != nil {
				return err
			}
			opts, notes, err := liveObjects(cmd.Context(), cfg, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			rep, err := alloc.CheckWith(cmd.Context(), opts)
			if err != nil {
				return err
			}
			for _, n := range notes {
				fmt.Fprintln(cmd.OutOrStdout(), n)
			}
			if n := writeCheck(cmd.OutOrStdout(), rep); n > 0 {
				return silentError{}
			}
			return nil
		},
	}
	return cmd
}

// liveObjects lists the pods and nodes that exist, for the leak and orphan checks.
func liveObjects(ctx context.Context, cfg client.Config, warn io.Writer) (ipam.CheckOptions, []string, error) {
	pods, nodes := map[string]bool{}, map[string]bool{}
	if cfg.DatastoreType == client.DatastoreFile {
		objs, err := resource.LoadPaths([]string{cfg.DatastoreDir}, nil)
		// Documents that do not decode are reported; only an unreadable directory
		// stops the check.
		bad, fatal := splitErrors(err)
		if fatal != nil {
			return ipam.CheckOptions{}, nil, fatal
		}
		for _, b := range bad {
			fmt.Fprintln(warn, "Warning: ignored:", b)
		}
		for _, o := range objs {
			switch obj := o.Obj.(type) {
			case *corev1.Pod:
				pods[obj.Namespace+"/"+obj.Name] = true
			case *corev1.Node:
				nodes[obj.Name] = true
			}
		}
	} else {
		rc, err := client.RESTConfig(cfg)
		if err != nil {
			return ipam.CheckOptions{}, nil, err
		}
		kube, err := kubernetes.NewForConfig(rc)
		if err != nil {
			return ipam.CheckOptions{}, nil, err
		}
		pl, err := kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return ipam.CheckOptions{}, nil, fmt.Errorf("listing pods: %w", err)
		}
		for _, p := range pl.Items {
			pods[p.Namespace+"/"+p.Name] = true
		}
		nl, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return ipam.CheckOptions{}, nil, fmt.Errorf("listing nodes: %w", err)
		}
		for _, n := range nl.Items {
			nodes[n.Name] = true
		}
	}
	var opts ipam.CheckOptions
	var notes []string
	if len(pods) > 0 {
		opts.LivePods = pods
	} else {
		notes = append(notes, "No pods in the datastore: the leak check is skipped.")
	}
	if len(nodes) > 0 {
		opts.LiveNodes = nodes
	} else {
		notes = append(notes, "No nodes in the datastore: the orphaned block and stale affinity checks are skipped.")
	}
	return opts, notes, nil
}

// writeCheck prints the report and returns the number of problems.
func writeCheck(w io.Writer, r ipam.CheckReport) int {
	fmt.Fprintf(w, "Checked %d blocks, %d affinities and %d handles; %d addresses in use.\n", r.Blocks, r.Affinities, r.Handles, r.InUse)
	n := 0
	section := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		n += len(lines)
		fmt.Fprintf(w, "\n%s (%d):\n", title, len(lines))
		for _, l := range lines {
			fmt.Fprintln(w, "  "+l)
		}
	}
	var lines []string
	for _, l := range r.Leaked {
		lines = append(lines, fmt.Sprintf("%s in block %s: pod %s (node %s) no longer exists; handle %s", l.Addr, l.Block, orDash(l.Pod), orDash(l.Node), l.Handle))
	}
	section("Leaked addresses", lines)
	lines = nil
	for _, d := range r.DoubleAllocations {
		lines = append(lines, fmt.Sprintf("%s: %s (%s)", d.Addr, d.Reason, strings.Join(d.Blocks, ", ")))
	}
	section("Double allocations", lines)
	section("Orphaned blocks", problems(r.OrphanedBlocks))
	section("Stale affinities", problems(r.StaleAffinities))
	section("Handle mismatches", problems(r.HandleMismatches))
	section("Invalid objects", problems(r.Invalid))
	if n == 0 {
		fmt.Fprintln(w, "No problems found.")
	} else {
		fmt.Fprintf(w, "\nFound %d problem(s).\n", n)
	}
	return n
}

func problems(ps []ipam.Problem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Object + ": " + p.Reason
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newIPAMReleaseCommand(a *app) *cobra.Command {
	var ip string
	cmd := &cobra.Command{
		Use:   "release --ip ADDRESS",
		Short: "Release one allocated address, whoever holds it",
		Long: `Free one address in its block and take it off its handle. Use it for leaks that
ipam check reports; releasing an address a live pod uses lets IPAM hand it out again.`,
		Example: `  palisadectl ipam release --ip 10.244.1.7
  palisadectl ipam release --ip fd00:10:244::5`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addr, err := netip.ParseAddr(ip)
			if err != nil {
				return fmt.Errorf("--ip %q: not an IP address", ip)
			}
			alloc, _, err := a.allocator()
			if err != nil {
				return err
			}
			if err := alloc.ReleaseIP(cmd.Context(), addr.Unmap()); err != nil {
				if errors.Is(err, ipam.ErrNotAllocated) {
					return fmt.Errorf("%s is not allocated", addr)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Successfully released IP address %s\n", addr)
			return nil
		},
	}
	cmd.Flags().StringVar(&ip, "ip", "", "the address to release")
	_ = cmd.MarkFlagRequired("ip")
	return cmd
}
