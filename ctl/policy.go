package ctl

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/palisadenet/palisade/ctl/offline"
	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/policy/eval"
)

// newPolicyCommand is `palisadectl policy`: offline questions about policy.
func newPolicyCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Answer policy questions from manifest files or the live datastore",
		Long: `Answer policy questions: load Namespaces, Pods, ServiceAccounts, Kubernetes
NetworkPolicies and projectcalico.org/v3 policy resources (NetworkPolicy,
GlobalNetworkPolicy, Tier, NetworkSet, GlobalNetworkSet) and evaluate them with
Palisade's reference evaluator. With -f the objects come from files and no cluster is
contacted; without -f they are read from the datastore (the Kubernetes API or the file
datastore directory, as for get).`,
		Example: `  palisadectl policy trace --from shop/frontend --to shop/db --port 5432
  palisadectl policy matrix -f manifests/ --port 80`,
	}
	cmd.AddCommand(newMatrixCommand(a), newTraceCommand(a))
	return cmd
}

// flowFlags are the flags matrix and trace share.
type flowFlags struct {
	files    []string
	port     int
	protocol string
}

func (f *flowFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&f.files, "filename", "f", nil,
		"file or directory of YAML/JSON manifests (repeatable; directories are read recursively; - reads stdin); without -f the datastore is read")
	cmd.Flags().IntVar(&f.port, "port", 0, "destination port (1-65535)")
	cmd.Flags().StringVar(&f.protocol, "protocol", "TCP", "protocol: TCP, UDP or SCTP")
	_ = cmd.MarkFlagRequired("port")
}

// parse checks the port and protocol flags.
func (f *flowFlags) parse() (policy.Protocol, uint16, error) {
	if f.port < 1 || f.port > 65535 {
		return 0, 0, fmt.Errorf("--port %d out of range 1-65535", f.port)
	}
	proto, err := policy.ParseProtocol(f.protocol)
	if err != nil || !proto.HasPorts() || proto == policy.ProtocolUDPLite {
		return 0, 0, fmt.Errorf("--protocol %q: want TCP, UDP or SCTP", f.protocol)
	}
	return proto, uint16(f.port), nil
}

// load reads the files, or the datastore when no file is named, into a World,
// printing warnings to stderr.
func (f *flowFlags) load(cmd *cobra.Command, a *app) (*eval.World, error) {
	var w *eval.World
	var warnings []string
	var err error
	if len(f.files) > 0 {
		w, warnings, err = offline.Load(f.files, a.stdin)
	} else {
		w, warnings, err = loadWorldFromDatastore(cmd, a)
	}
	for _, warn := range warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), "Warning:", warn)
	}
	if err != nil {
		return nil, fmt.Errorf("loading manifests:\n%w", err)
	}
	return w, nil
}

// loadWorldFromDatastore reads every policy-relevant object from the datastore.
func loadWorldFromDatastore(cmd *cobra.Command, a *app) (*eval.World, []string, error) {
	c, err := a.open()
	if err != nil {
		return nil, nil, err
	}
	objs, err := c.PolicyObjects(cmd.Context())
	warnings := c.Warnings()
	if err != nil {
		return nil, warnings, err
	}
	w, more, err := offline.BuildWorld(objs)
	return w, append(warnings, more...), err
}

func newMatrixCommand(a *app) *cobra.Command {
	var flags flowFlags
	var output string
	cmd := &cobra.Command{
		Use:   "matrix [-f PATH...] --port N [--protocol TCP|UDP|SCTP] [-o table|json]",
		Short: "Print which pods may reach which pods on one port",
		Long: `Evaluate every ordered pair of pods (source, destination, including a pod to itself)
for one protocol and destination port, and print the result. A flow is allowed only
when the source's egress policy and the destination's ingress policy both allow it.

Pods need status.podIP (or status.podIPs); named ports resolve through the pods'
container ports. The table marks "." allowed and "X" denied, sources as rows and
destinations as columns. -o json prints one line:
  {"port":80,"protocol":"TCP","pods":["x/a",...],"allowed":{"<src>":{"<dst>":true|false}}}`,
		Example: `  # The truth table of everything in a directory, TCP port 80
  palisadectl policy matrix -f manifests/ --port 80

  # The same for the live cluster (or file datastore)
  palisadectl policy matrix --port 80

  # Cluster state from kubectl plus a policy under review, UDP 53, as JSON
  kubectl get ns,pods,networkpolicies -A -o yaml > cluster.yaml
  palisadectl policy matrix -f cluster.yaml -f new-policy.yaml --port 53 --protocol UDP -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("-o %q: want table or json", output)
			}
			proto, port, err := flags.parse()
			if err != nil {
				return err
			}
			w, err := flags.load(cmd, a)
			if err != nil {
				return err
			}
			m, err := offline.ComputeMatrix(w, proto, port)
			if err != nil {
				return err
			}
			if output == "json" {
				_, err = cmd.OutOrStdout().Write(m.JSON())
				return err
			}
			return m.WriteTable(cmd.OutOrStdout())
		},
	}
	flags.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func newTraceCommand(a *app) *cobra.Command {
	var flags flowFlags
	var from, to string
	cmd := &cobra.Command{
		Use:   "trace [-f PATH...] --from NS/POD --to NS/POD --port N [--protocol TCP|UDP|SCTP]",
		Short: "Explain whether one pod may reach another, and why",
		Long: `Evaluate one flow and explain both halves: the source pod's egress and the
destination pod's ingress. Each half names the tier, policy and rule that decided, or
the tier whose end dropped the flow (a policy in it selected the pod but no rule
matched), or the namespace profile that allowed it because no policy applied (or
every tier passed).`,
		Example: `  # Why can't the frontend reach the database?
  palisadectl policy trace -f manifests/ --from shop/frontend --to shop/db --port 5432

  # The same question to the live cluster (or file datastore)
  palisadectl policy trace --from shop/frontend --to shop/db --port 5432

  # UDP, with the policies read from stdin
  cat policies.yaml | palisadectl policy trace -f pods.yaml -f - --from x/a --to y/b --port 53 --protocol UDP`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			proto, port, err := flags.parse()
			if err != nil {
				return err
			}
			w, err := flags.load(cmd, a)
			if err != nil {
				return err
			}
			v, err := offline.Trace(w, from, to, proto, port)
			if err != nil {
				return err
			}
			return offline.WriteTrace(cmd.OutOrStdout(), v)
		},
	}
	flags.register(cmd)
	cmd.Flags().StringVar(&from, "from", "", "source pod as namespace/name")
	cmd.Flags().StringVar(&to, "to", "", "destination pod as namespace/name")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// errorText formats an error for stderr: multi-line errors keep one problem a line.
func errorText(err error) string {
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n  ")
}
