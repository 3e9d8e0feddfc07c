package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/palisadenet/palisade/ctl/offline"
	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/policy/eval"
	"github.com/palisadenet/palisade/routing/bgp"
)

// matrixProbes lists every (source, destination, port) with source != destination.
func (c *cluster) matrixProbes() []probe {
	var out []probe
	for _, src := range c.pods {
		for _, dst := range c.pods {
			if src == dst {
				continue
			}
			for _, port := range ports {
				out = append(out, probe{src: src, dst: dst, port: port})
			}
		}
	}
	return out
}

// expected asks the reference evaluator for the verdict of every probe, given the
// datastore's current manifests (namespaces, pods, policies).
func (c *cluster) expected(probes []probe) ([]eval.Verdict, error) {
	paths := []string{filepath.Join(c.dsDir, "namespaces.yaml"), filepath.Join(c.dsDir, "pods")}
	if _, err := os.Stat(filepath.Join(c.dsDir, "allow-tcp-6379.yaml")); err == nil {
		paths = append(paths, filepath.Join(c.dsDir, "allow-tcp-6379.yaml"))
	}
	w, _, err := offline.Load(paths, nil)
	if err != nil {
		return nil, fmt.Errorf("loading the datastore for the reference evaluator: %w", err)
	}
	out := make([]eval.Verdict, len(probes))
	for i, pr := range probes {
		flow := eval.Flow{Source: eval.Peer{Pod: pr.src.namespace + "/" + pr.src.name},
			Destination: eval.Peer{Pod: pr.dst.namespace + "/" + pr.dst.name}, Protocol: policy.ProtocolTCP, Port: pr.port}
		if out[i], err = eval.Evaluate(w, flow); err != nil {
			return nil, fmt.Errorf("evaluating %s: %w", flow, err)
		}
	}
	return out, nil
}

// waitUntilExpected probes until the real verdicts equal the evaluator's and returns
// when that first held.
func (c *cluster) waitUntilExpected(ctx context.Context, timeout time.Duration) (time.Time, error) {
	probes := c.matrixProbes()
	want, err := c.expected(probes)
	if err != nil {
		return time.Time{}, err
	}
	deadline := time.Now().Add(timeout)
	for {
		got := probeAll(probes, 300*time.Millisecond)
		var wrong []string
		for i, pr := range probes {
			if got[i] != want[i].Allowed {
				wrong = append(wrong, fmt.Sprintf("%s→%s:%d", pr.src.name, pr.dst.name, pr.port))
			}
		}
		if len(wrong) == 0 {
			return time.Now(), nil
		}
		for _, n := range c.nodes {
			if err := n.agentFailure(); err != nil {
				return time.Time{}, err
			}
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("after %s these probes still differ from the evaluator: %s", timeout, strings.Join(wrong, ", "))
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *cluster) waitForMatrix(ctx context.Context, timeout time.Duration) error {
	_, err := c.waitUntilExpected(ctx, timeout)
	return err
}

func (c *cluster) waitForPolicy(ctx context.Context, timeout time.Duration) (time.Time, error) {
	return c.waitUntilExpected(ctx, timeout)
}

// waitForMesh waits until every node's BGP sessions are Established and each node
// reaches the other's pods' block (checked later by the probes).
func (c *cluster) waitForMesh(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var notUp []string
		for _, n := range c.nodes {
			if err := n.agentFailure(); err != nil {
				return err
			}
			st, err := bgp.FetchStatus(ctx, n.socket)
			switch {
			case err != nil || !st.Running:
				notUp = append(notUp, n.name+" (agent not answering)")
			case len(st.Peers) != len(c.nodes)-1:
				notUp = append(notUp, fmt.Sprintf("%s (%d of %d peers)", n.name, len(st.Peers), len(c.nodes)-1))
			default:
				for _, p := range st.Peers {
					if p.Info != "Established" {
						notUp = append(notUp, fmt.Sprintf("%s→%s %s", n.name, p.Address, p.Info))
					}
				}
			}
		}
		if len(notUp) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("BGP not established after %s: %s", timeout, strings.Join(notUp, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// report probes the matrix once with a generous timeout and prints it next to the
// evaluator's verdicts. It returns false when any probe disagrees.
func (c *cluster) report(title string, _ string) (bool, error) {
	probes := c.matrixProbes()
	want, err := c.expected(probes)
	if err != nil {
		return false, err
	}
	got := probeAll(probes, time.Second)
	results := map[string]string{}
	agree := 0
	var why []string
	for i, pr := range probes {
		cell := "denied"
		if got[i] {
			cell = "allowed"
		}
		if got[i] == want[i].Allowed {
			agree++
		} else {
			cell += " (!)"
		}
		results[pr.src.name+"|"+colName(pr.dst, pr.port)] = cell
		if !want[i].Allowed {
			d := want[i].Ingress
			if !want[i].Egress.Allowed {
				d = want[i].Egress
			}
			why = append(why, fmt.Sprintf("%s → %s:%d  %s", pr.src.name, pr.dst.name, pr.port, d))
		}
	}
	var cols []string
	for _, dst := range c.pods {
		for _, port := range ports {
			cols = append(cols, colName(dst, port))
		}
	}
	fmt.Printf("\n%s\n", title)
	fmt.Printf("  %-22s", "FROM \\ TO (TCP)")
	for _, col := range cols {
		fmt.Printf(" %-14s", col)
	}
	fmt.Println()
	for _, src := range c.pods {
		fmt.Printf("  %-22s", fmt.Sprintf("%s (%s)", src.name, src.node.name))
		for _, col := range cols {
			cell, ok := results[src.name+"|"+col]
			if !ok {
				cell = "-"
			}
			fmt.Printf(" %-14s", cell)
		}
		fmt.Println()
	}
	if agree == len(probes) {
		fmt.Printf("  Every probe (%d real TCP connections) agrees with the reference evaluator.\n", len(probes))
	} else {
		fmt.Printf("  %d of %d probes DISAGREE with the reference evaluator (marked (!)).\n", len(probes)-agree, len(probes))
	}
	if len(why) > 0 {
		fmt.Println("  Why denied (reference evaluator):")
		for _, w := range why {
			fmt.Println("    " + w)
		}
	}
	return agree == len(probes), nil
}

func colName(p *pod, port uint16) string { return fmt.Sprintf("%s:%d", p.name, port) }

// printNodeStatus shows what `palisadectl node status` prints on each node (the
// real CLI when it was built, else the same rendering from the status socket).
func (c *cluster) printNodeStatus(ctx context.Context) error {
	ctl := filepath.Join(c.bin, "palisadectl")
	for _, n := range c.nodes {
		fmt.Printf("\n$ palisadectl node status   # on %s\n", n.name)
		if _, err := os.Stat(ctl); err == nil {
			out, err := run(ctl, "node", "status", "--socket", n.socket)
			if err != nil {
				return err
			}
			fmt.Print(out)
			continue
		}
		st, err := bgp.FetchStatus(ctx, n.socket)
		if err != nil {
			return err
		}
		fmt.Print(bgp.RenderNodeStatus(st, time.Now()))
	}
	return nil
}

// printRoutes shows node1's pod routes: its own block's blackhole, the /32s of its
// pods on cali interfaces, and node2's block learned over BGP (proto 80).
func (c *cluster) printRoutes() {
	out, err := inNS(c.nodes[0].ns, "ip", "route", "show")
	if err != nil {
		fmt.Println("ip route:", err)
		return
	}
	fmt.Printf("\n$ ip route   # on %s\n%s", c.nodes[0].name, out)
}

// showNATOutgoing connects from a pod to a host outside every pool: the pool has
// natOutgoing, so the host sees the node's address, not the pod's.
func (c *cluster) showNATOutgoing(ctx context.Context) error {
	const port = 8080
	if err := listenOutside(ctx, port); err != nil {
		return err
	}
	p := c.pods[0]
	seen, err := seenFromOutside(p, port)
	if err != nil {
		return err
	}
	fmt.Printf("\nnatOutgoing: %s (%s) → %s:%d outside the pools is seen from %s (%s's address)\n",
		p.name, p.ip, outsideAddr, port, seen, p.node.name)
	return nil
}
