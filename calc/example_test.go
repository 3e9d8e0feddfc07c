package calc_test

import (
	"fmt"

	"github.com/palisadenet/palisade/calc"
	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/resource"
	"go.uber.org/zap"
)

// A datastore's events go into Apply; what comes out is the dataplane's input.
func Example() {
	objs, err := resource.Decode("example.yaml", []byte(`
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {nodeName: node1, containers: [{name: c, image: nginx}]}
status: {podIP: 10.0.0.1}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {}}]}]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	var batch []datastore.Update
	for _, o := range objs {
		u, _ := datastore.UpdateOf(o.Obj)
		batch = append(batch, u)
	}
	g := calc.New(zap.NewNop(), "node1")
	for _, u := range g.Apply(batch) {
		switch {
		case u.SetUpdate != nil:
			fmt.Println("set", len(u.SetUpdate.Members), "member(s)")
		case u.ProfileUpdate != nil:
			fmt.Println("profile", u.ProfileUpdate.ID)
		case u.PolicyUpdate != nil:
			fmt.Println("policy", u.PolicyUpdate.ID)
		case u.EndpointUpdate != nil:
			ep := u.EndpointUpdate
			fmt.Println("endpoint", ep.Key, ep.Iface, ep.Addrs, ep.Tiers[0].IngressPolicies)
		}
	}
	// Output:
	// set 1 member(s)
	// profile kns.shop
	// policy default/shop/knp.default.web
	// endpoint shop/web cali551b05c3e54 [10.0.0.1/32] [default/shop/knp.default.web]
}
