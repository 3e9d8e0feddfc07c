package ctl

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/palisadenet/palisade/ctl/client"
)

func newCompletionCommand(root *cobra.Command) *cobra.Command {
	root.CompletionOptions.DisableDefaultCmd = true
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print the completion script for a shell. Commands, flags and resource kinds
complete; load the script in your shell's start-up file.`,
		Example: `  # bash, this session
  source <(palisadectl completion bash)
  # bash, for good
  palisadectl completion bash > /etc/bash_completion.d/palisadectl
  # zsh
  palisadectl completion zsh > "${fpath[1]}/_palisadectl"
  # fish
  palisadectl completion fish > ~/.config/fish/completions/palisadectl.fish`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(w, true)
			case "zsh":
				return root.GenZshCompletion(w)
			case "fish":
				return root.GenFishCompletion(w, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(w)
			}
			return fmt.Errorf("unknown shell %q: want bash, zsh, fish or powershell", args[0])
		},
	}
}

// completeKinds completes the KIND argument with the kinds' singular names.
func completeKinds(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	kinds, err := client.Kinds()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.Singular
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// kindList names every kind for help texts.
func kindList() string {
	kinds, err := client.Kinds()
	if err != nil {
		return "(" + err.Error() + ")"
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Kind
	}
	return strings.Join(names, ", ")
}
