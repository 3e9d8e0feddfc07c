package e2e

import (
	"testing"
)

// TestCluster starts one cluster (apiserver, etcd, three nodes running
// palisade-node) and runs every end-to-end check against it, so the ~20 s start-up
// is paid once. Each subtest creates its own namespaces and pods and removes the
// policies it applied. Run one with -run 'TestCluster/<name>'; the cluster still
// starts.
func TestCluster(t *testing.T) {
	c := startCluster(t)
	t.Run("allow-tcp-6379", c.testAllowTCP6379)
	t.Run("truth-table", c.testTruthTable)
	t.Run("agent-restart", c.testAgentRestart)
	t.Run("pool-mode", c.testPoolModeChange)
}
