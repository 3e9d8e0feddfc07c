// Package ctl implements palisadectl's cobra command tree. Input: argv, stdin, the
// environment, and the files or datastore they name (package ctl/client: the Kubernetes
// API or a file datastore directory). Output: text on stdout/stderr and an exit code
// (0 on success, 1 on any error).
package ctl

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisadenet/palisade/ctl/client"
)

// Env is what palisadectl takes from its surroundings besides argv and the streams;
// tests replace it.
type Env struct {
	// Getenv reads the environment (os.Getenv).
	Getenv func(string) string
	// Now is the clock (time.Now): creation timestamps, `node status` SINCE column.
	Now func() time.Time
	// NewUID makes metadata.uid for objects the file backend creates (random UUIDs).
	NewUID func() string
	// DefaultConfig is read when --config is not given and it exists
	// (client.DefaultConfigPath, else calicoctl's client.CalicoctlConfigPath).
	DefaultConfig string
}

// Main runs palisadectl with args and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return MainWithEnv(args, stdin, stdout, stderr, Env{})
}

// MainWithEnv is Main with the environment given.
func MainWithEnv(args []string, stdin io.Reader, stdout, stderr io.Writer, env Env) int {
	root := newRoot(stdin, stdout, stderr, env)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		var silent silentError
		if !errors.As(err, &silent) {
			fmt.Fprintln(stderr, "Error:", errorText(err))
		}
		return 1
	}
	return 0
}

// silentError fails the command without printing anything more (the command already
// said what went wrong, as `node status` does when the agent is not running).
type silentError struct{}

func (silentError) Error() string { return "exit status 1" }

// NewRootCommand builds the command tree writing to the given streams, with the
// process environment.
func NewRootCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	return newRoot(stdin, stdout, stderr, Env{})
}

// app holds the global flags and opens the datastore on first use.
type app struct {
	env                  Env
	stdin                io.Reader
	configPath           string
	allowVersionMismatch bool
	client               client.Client
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer, env Env) *cobra.Command {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.DefaultConfig == "" {
		env.DefaultConfig = client.DefaultConfigPath
	}
	a := &app{env: env, stdin: stdin}
	root := &cobra.Command{
		Use:   "palisadectl",
		Short: "Manage Palisade (Calico-compatible) resources, policy and nodes",
		Long: `palisadectl manages Palisade, the Calico-compatible node agent: projectcalico.org/v3
resources (get, create, apply, replace, delete, patch, label), node BGP status, IPAM,
and policy questions (trace, matrix).

The datastore is the Kubernetes API (the default: KUBECONFIG or ~/.kube/config) or a
file datastore directory (DATASTORE_TYPE=file with DATASTORE_DIR=/path), chosen by a
CalicoAPIConfig file (--config; by default ` + client.DefaultConfigPath + `, else
calicoctl's ` + client.CalicoctlConfigPath + `, when one exists) or the environment.`,
		Example: `  palisadectl get ippools
  palisadectl apply -f policy.yaml
  DATASTORE_TYPE=file DATASTORE_DIR=/etc/palisade/manifests palisadectl get gnp -o yaml
  palisadectl --config /etc/calico/calicoctl.cfg get ippools -o wide`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVarP(&a.configPath, "config", "c", "", "CalicoAPIConfig file (default "+client.DefaultConfigPath+", then "+client.CalicoctlConfigPath+", when one exists; else the environment)")
	root.PersistentFlags().BoolVar(&a.allowVersionMismatch, "allow-version-mismatch", false, "accepted for calicoctl compatibility: palisadectl does not refuse a cluster of another version")
	root.AddCommand(
		newGetCommand(a), newCreateCommand(a), newApplyCommand(a), newReplaceCommand(a),
		newDeleteCommand(a), newPatchCommand(a), newLabelCommand(a),
		newNodeCommand(a), newIPAMCommand(a), newPolicyCommand(a),
		newVersionCommand(a), newCompletionCommand(root),
	)
	return root
}

// config returns the datastore configuration: --config, the default file, or the
// environment.
func (a *app) config() (client.Config, error) {
	if a.configPath != "" {
		return client.LoadConfig(a.configPath)
	}
	candidates := []string{a.env.DefaultConfig}
	if a.env.DefaultConfig == client.DefaultConfigPath {
		candidates = append(candidates, client.CalicoctlConfigPath)
	}
	for _, path := range candidates {
		if _, err := os.Stat(path); err == nil {
			return client.LoadConfig(path)
		}
	}
	return client.ConfigFromEnv(a.env.Getenv)
}

// open returns the datastore client, opening it once.
func (a *app) open() (client.Client, error) {
	if a.client != nil {
		return a.client, nil
	}
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Now: a.env.Now, NewUID: a.env.NewUID})
	if err != nil {
		return nil, err
	}
	a.client = c
	return c, nil
}

// warnings prints the client's warnings to stderr.
func (a *app) warnings(cmd *cobra.Command) {
	if a.client == nil {
		return
	}
	for _, w := range a.client.Warnings() {
		fmt.Fprintln(cmd.ErrOrStderr(), "Warning:", w)
	}
}
