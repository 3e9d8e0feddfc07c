package eval_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/policy/eval"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"
)

// decodeInto adds the objects of a YAML stream ("---" separated) to w: Kubernetes
// NetworkPolicies and v3 NetworkPolicy, GlobalNetworkPolicy, Tier, NetworkSet and
// GlobalNetworkSet, each converted into the model.
func decodeInto(w *eval.World, data []byte) error {
	for i, doc := range bytes.Split(data, []byte("\n---")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		if err := decodeDoc(w, doc); err != nil {
			return fmt.Errorf("document %d: %w", i+1, err)
		}
	}
	return nil
}

func decodeDoc(w *eval.World, doc []byte) error {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return err
	}
	switch {
	case head.APIVersion == "networking.k8s.io/v1" && head.Kind == "NetworkPolicy":
		var np networkingv1.NetworkPolicy
		if err := yaml.UnmarshalStrict(doc, &np); err != nil {
			return err
		}
		p, err := policy.FromKubernetes(&np)
		return addPolicy(w, p, err)
	case head.Kind == "NetworkPolicy":
		var np v3.NetworkPolicy
		if err := yaml.UnmarshalStrict(doc, &np); err != nil {
			return err
		}
		p, err := policy.FromNetworkPolicy(&np)
		return addPolicy(w, p, err)
	case head.Kind == "GlobalNetworkPolicy":
		var gnp v3.GlobalNetworkPolicy
		if err := yaml.UnmarshalStrict(doc, &gnp); err != nil {
			return err
		}
		p, err := policy.FromGlobalNetworkPolicy(&gnp)
		return addPolicy(w, p, err)
	case head.Kind == "Tier":
		var t v3.Tier
		if err := yaml.UnmarshalStrict(doc, &t); err != nil {
			return err
		}
		tier, err := policy.FromTier(&t)
		if err == nil {
			w.Tiers = append(w.Tiers, tier)
		}
		return err
	case head.Kind == "NetworkSet":
		var s v3.NetworkSet
		if err := yaml.UnmarshalStrict(doc, &s); err != nil {
			return err
		}
		set, err := policy.FromNetworkSet(&s)
		if err == nil {
			w.NetworkSets = append(w.NetworkSets, set)
		}
		return err
	case head.Kind == "GlobalNetworkSet":
		var s v3.GlobalNetworkSet
		if err := yaml.UnmarshalStrict(doc, &s); err != nil {
			return err
		}
		set, err := policy.FromGlobalNetworkSet(&s)
		if err == nil {
			w.NetworkSets = append(w.NetworkSets, set)
		}
		return err
	}
	return fmt.Errorf("unknown kind %q", head.Kind)
}

func addPolicy(w *eval.World, p *policy.Policy, err error) error {
	if err != nil {
		return err
	}
	w.Policies = append(w.Policies, p)
	return nil
}

// testWorld is namespaces x, y, z (labelled ns=<name>) with pods a, b, c each
// (labelled pod=<name>), at 10.0.<ns>.<pod> and fd00::<ns>:<pod>. Every pod serves
// "web" on TCP 80 and "dns" on UDP 53, except pod c, which serves "web" on TCP
// 8080. Pods use service account "sa-<pod>", labelled role=<pod>.
func testWorld(t testing.TB, objects string) *eval.World {
	t.Helper()
	w := &eval.World{}
	for ni, ns := range []string{"x", "y", "z"} {
		w.Namespaces = append(w.Namespaces, eval.Namespace{Name: ns, Labels: map[string]string{"ns": ns}})
		for pi, pod := range []string{"a", "b", "c"} {
			webPort := uint16(80)
			if pod == "c" {
				webPort = 8080
			}
			w.Pods = append(w.Pods, eval.Pod{
				Namespace: ns, Name: pod, Labels: map[string]string{"pod": pod},
				IPs: []netip.Addr{
					netip.MustParseAddr(fmt.Sprintf("10.0.%d.%d", ni+1, pi+1)),
					netip.MustParseAddr(fmt.Sprintf("fd00::%d:%d", ni+1, pi+1)),
				},
				Ports: []eval.ContainerPort{
					{Name: "web", Protocol: policy.ProtocolTCP, Port: webPort},
					{Name: "dns", Protocol: policy.ProtocolUDP, Port: 53},
				},
				ServiceAccount: "sa-" + pod,
				Node:           "node1",
			})
			w.ServiceAccounts = append(w.ServiceAccounts, eval.ServiceAccount{
				Namespace: ns, Name: "sa-" + pod, Labels: map[string]string{"role": pod},
			})
		}
	}
	if err := decodeInto(w, []byte(objects)); err != nil {
		t.Fatalf("decoding test objects: %v", err)
	}
	return w
}
