package ctl

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/palisadenet/palisade/ctl/client"
	"github.com/palisadenet/palisade/internal/version"
)

func newVersionCommand(a *app) *cobra.Command {
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the client version, and the cluster's when a datastore is reachable",
		Long: `Print palisadectl's version and, unless --client, what the datastore says about the
cluster: the Calico-compatible version and type recorded in ClusterInformation
"default", and the Kubernetes API server's version. A datastore that cannot be
reached is reported on stderr without failing the command, so the client version is
always printed. Versions that differ are only reported: --allow-version-mismatch is
accepted for calicoctl compatibility.`,
		Example: `  palisadectl version
  palisadectl version --client
  DATASTORE_TYPE=file DATASTORE_DIR=/etc/palisade/manifests palisadectl version`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			fmt.Fprintln(w, "Client Version:", version.Version)
			if clientOnly {
				return nil
			}
			info, err := clusterInfo(a, cmd)
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "Warning: cannot read the cluster version:", errorText(err))
				return nil
			}
			fmt.Fprintln(w, "Cluster Version:", orUnknown(info.CalicoVersion))
			fmt.Fprintln(w, "Cluster Type:", orUnknown(info.ClusterType))
			fmt.Fprintln(w, "Datastore:", info.Datastore)
			if info.KubernetesVersion != "" {
				fmt.Fprintln(w, "Kubernetes Version:", info.KubernetesVersion)
			}
			if info.CalicoVersion != "" && info.CalicoVersion != version.Version && !a.allowVersionMismatch {
				fmt.Fprintf(cmd.ErrOrStderr(), "Note: client %s and cluster %s differ\n", version.Version, info.CalicoVersion)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "print the client version only")
	return cmd
}

func clusterInfo(a *app, cmd *cobra.Command) (client.ClusterInfo, error) {
	c, err := a.open()
	if err != nil {
		return client.ClusterInfo{}, err
	}
	return c.ClusterInfo(cmd.Context())
}

func orUnknown(s string) string {
	if strings.TrimSpace(s) == "" {
		return "unknown"
	}
	return s
}
