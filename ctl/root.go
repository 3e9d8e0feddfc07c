// Package ctl implements palisadectl's cobra command tree. Input: argv, stdin and the
// files or datastore it names; output: text on stdout/stderr and an exit code.
package ctl

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/palisadenet/palisade/internal/version"
)

// Main runs palisadectl with args and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := NewRootCommand(stdin, stdout, stderr)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(stderr, "Error:", errorText(err))
		return 1
	}
	return 0
}

// NewRootCommand builds the command tree writing to the given streams.
func NewRootCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "palisadectl",
		Short:         "Manage Palisade (Calico-compatible) resources, policy and nodes",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newPolicyCommand(stdin))
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the client version",
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "Client Version:", version.Version)
			return nil
		},
	})
	return root
}
