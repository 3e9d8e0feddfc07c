package ctl

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

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
	cmd.AddCommand(status)
	return cmd
}
