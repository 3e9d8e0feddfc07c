package ipam_test

import (
	"context"
	"fmt"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/routing/ipam"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func Example() {
	ctx := context.Background()
	pool := v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "pods"}, Spec: v3.IPPoolSpec{CIDR: "10.244.0.0/16"}}
	a := ipam.New(ipam.NewMemoryStore([]v3.IPPool{pool}, nil), nil)

	got, err := a.Assign(ctx, ipam.AssignArgs{
		Handle: "k8s-pod-network.0123456789ab", Node: "node-1", Num4: 1,
		Attrs: map[string]string{ipam.AttrNamespace: "default", ipam.AttrPod: "web"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(got[0].Addr, "from", got[0].Pool, "block", got[0].Block)

	report, _ := a.Check(ctx, map[string]bool{}) // the pod is gone
	fmt.Println("leaked:", report.Leaked[0].Addr, report.Leaked[0].Pod)

	_ = a.ReleaseByHandle(ctx, "k8s-pod-network.0123456789ab")
	report, _ = a.Check(ctx, map[string]bool{})
	fmt.Println("in use after release:", report.InUse)
	// Output:
	// 10.244.0.0/32 from pods block 10.244.0.0/26
	// leaked: 10.244.0.0 default/web
	// in use after release: 0
}
