package agent

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/palisadenet/palisade/agent/statusapi"
	"github.com/palisadenet/palisade/calc"
	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/routing/bgp"
)

// The status socket tells the CLI which objects the agent rejected, and still
// answers the BGP status on its path.
func TestStatusSocket(t *testing.T) {
	a := New(Config{NodeName: "n1"}, zaptest.NewLogger(t), time.Now)
	a.board.set(true, calc.Status{LocalEndpoints: 3, ActivePolicies: 2, Sets: 4, Invalid: []calc.InvalidObject{{
		Key:      datastore.Key{Kind: datastore.KindNetworkPolicy, Namespace: "prod", Name: "bad"},
		Problems: []string{"spec.selector: unexpected token"},
	}}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	socket := filepath.Join(t.TempDir(), "status.sock")
	if err := serveHTTP(ctx, socket, a.statusHandler(), a.log); err != nil {
		t.Fatal(err)
	}
	got, err := statusapi.FetchPolicyStatus(ctx, socket)
	if err != nil {
		t.Fatal(err)
	}
	want := PolicyStatus{InSync: true, LocalEndpoints: 3, ActivePolicies: 2, Sets: 4, Invalid: []InvalidObject{
		{Object: "NetworkPolicy prod/bad", Problems: []string{"spec.selector: unexpected token"}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("policy status (-want +got):\n%s", diff)
	}
	bgpSt, err := bgp.FetchStatus(ctx, socket)
	if err != nil || !bgpSt.Running || len(bgpSt.Peers) != 0 {
		t.Errorf("BGP status over the same socket = %+v, %v; want running without peers", bgpSt, err)
	}
}
