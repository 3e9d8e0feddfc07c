package ctl

import (
	"errors"

	"github.com/spf13/cobra"
)

// newIPAMCommand is `palisadectl ipam`; its subcommands need package routing/ipam.
func newIPAMCommand(_ *app) *cobra.Command {
	return &cobra.Command{
		Use:     "ipam",
		Short:   "Show and repair IP address management state",
		Example: `  palisadectl ipam show --show-blocks`,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("ipam: not available in this build yet")
		},
	}
}
