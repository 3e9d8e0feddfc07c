package ctl

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisadenet/palisade/agent/statusapi"
	"github.com/palisadenet/palisade/routing/bgp"
)

func newNodeCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "node",
		Short:   "Ask the local palisade-node agent about this node",
		Example: `  palisadectl node status`,
	}
	var socket string
	var timeout time.Duration
	status := &cobra.Command{
		Use:   "status",
		Short: "Print whether the agent runs and the state of its BGP sessions",
		Long: `Ask the palisade-node agent on this host, over its local status socket, whether it
runs and how its BGP sessions stand: one table for IPv4 peers and one for IPv6, with
the peer's address, type (node-to-node mesh, global, node specific), state, since when,
and detail. When no agent listens on the socket it prints that the process is not
running and exits with status 1. Usually needs root (the socket is root's).`,
		Example: `  sudo palisadectl node status
  palisadectl node status --socket /run/palisade-test/status.sock`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			st, err := bgp.FetchStatus(ctx, socket)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), bgp.RenderNodeStatus(st, a.env.Now()))
			if !st.Running {
				return silentError{}
			}
			return nil
		},
	}
	status.Flags().StringVar(&socket, "socket", bgp.DefaultStatusSocket, "the agent's status socket")
	status.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for the agent")
	cmd.AddCommand(status, newNodePolicyCommand())
	return cmd
}

// newNodePolicyCommand prints what the agent enforces and the objects it rejected.
func newNodePolicyCommand() *cobra.Command {
	var socket string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Print what the local agent enforces and which policies it rejected",
		Long: `Ask the palisade-node agent on this host whether its dataplane is in sync, how
many local endpoints, active policies and IP sets it holds, and which objects it
rejected as invalid, with the field and the problem. Endpoints an invalid policy
would select fail closed in the direction concerned. Exits with status 1 when any
object was rejected or the agent does not answer.`,
		Example: `  sudo palisadectl node policy
  palisadectl node policy --socket /run/palisade-test/status.sock`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			st, err := statusapi.FetchPolicyStatus(ctx, socket)
			if err != nil {
				return fmt.Errorf("%w (is palisade-node running?)", err)
			}
			out := cmd.OutOrStdout()
			sync := "yes"
			if !st.InSync {
				sync = "no (waiting for the datastore's initial snapshot)"
			}
			fmt.Fprintf(out, "In sync:          %s\nLocal endpoints:  %d\nActive policies:  %d\nIP sets:          %d\n",
				sync, st.LocalEndpoints, st.ActivePolicies, st.Sets)
			if len(st.Invalid) == 0 {
				fmt.Fprintln(out, "Rejected objects: none")
				return nil
			}
			fmt.Fprintf(out, "Rejected objects: %d (the endpoints they select fail closed)\n", len(st.Invalid))
			for _, inv := range st.Invalid {
				fmt.Fprintf(out, "  %s\n", inv.Object)
				for _, p := range inv.Problems {
					fmt.Fprintf(out, "    %s\n", p)
				}
			}
			return silentError{}
		},
	}
	cmd.Flags().StringVar(&socket, "socket", bgp.DefaultStatusSocket, "the agent's status socket")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for the agent")
	return cmd
}
