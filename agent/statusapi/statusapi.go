// Package statusapi is the policy half of the agent's local status socket: the
// document the agent serves at PolicyStatusPath and the client palisadectl uses to
// read it. It is separate from package agent so the CLI does not link the agent.
package statusapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
)

// PolicyStatusPath is where the status socket serves the policy status: what the
// calculation graph holds and the objects it rejected (they fail closed).
const PolicyStatusPath = "/policy/status"

// PolicyStatus is the JSON document at PolicyStatusPath.
type PolicyStatus struct {
	InSync         bool            `json:"inSync"`
	LocalEndpoints int             `json:"localEndpoints"`
	ActivePolicies int             `json:"activePolicies"`
	Sets           int             `json:"sets"`
	Invalid        []InvalidObject `json:"invalid,omitempty"`
}

// InvalidObject is one rejected object with its field problems.
type InvalidObject struct {
	Object   string   `json:"object"`
	Problems []string `json:"problems"`
}

// FetchPolicyStatus asks the agent listening on socket for its policy status.
func FetchPolicyStatus(ctx context.Context, socket string) (PolicyStatus, error) {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://palisade-node"+PolicyStatusPath, nil)
	if err != nil {
		return PolicyStatus{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return PolicyStatus{}, fmt.Errorf("asking %s for the policy status: %w", socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return PolicyStatus{}, fmt.Errorf("asking %s for the policy status: %s", socket, resp.Status)
	}
	var st PolicyStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return PolicyStatus{}, fmt.Errorf("decoding the policy status from %s: %w", socket, err)
	}
	return st, nil
}
