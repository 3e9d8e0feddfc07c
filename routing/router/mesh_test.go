package router_test

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// Three nodes in the default full mesh: every session comes up, every node routes
// the others' blocks natively with protocol 80, pods on different nodes talk, and a
// crashed node's routes leave the others and come back when it restarts.
func TestMeshThreeNodes(t *testing.T) {
	c := newCluster(t, 3)
	c.startAll()
	for _, nd := range c.nodes {
		st := c.waitEstablished(nd, c.others(nd), 60*time.Second)
		if !strings.Contains(st.Text, "| node-to-node mesh | up    |") || !strings.HasPrefix(st.Text, "Palisade process is running.") {
			t.Errorf("%s node status:\n%s", nd.name, st.Text)
		}
	}
	for _, nd := range c.nodes {
		c.waitRoutes(nd, c.meshRoutes(nd), 20*time.Second)
	}
	c.checkPodsReach()
	t.Logf("mesh up, routes installed, pods reach each other")

	n3 := c.nodes[2]
	c.stop(n3, syscall.SIGKILL)
	for _, nd := range c.nodes[:2] {
		c.waitRoutes(nd, c.meshRoutes(nd, n3), 30*time.Second)
	}
	t.Logf("killed n3: its block left n1 and n2")
	c.start(n3)
	for _, nd := range c.nodes {
		c.waitRoutes(nd, c.meshRoutes(nd), 60*time.Second)
	}
	c.checkPodsReach()
}
