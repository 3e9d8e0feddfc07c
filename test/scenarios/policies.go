package scenarios

import (
	"fmt"
	"strings"
)

// kubernetesPolicy writes one networking.k8s.io/v1 NetworkPolicy.
func (g *gen) kubernetesPolicy() {
	g.n++
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: knp%d, namespace: %s}\nspec:\n  podSelector: %s\n",
		g.n, pick(g, Namespaces...), g.labelSelector(podLabelValues, podLabelKeys))
	ingress, egress := g.r.IntN(3), g.r.IntN(3)
	switch g.r.IntN(4) {
	case 0: // omitted: Ingress, plus Egress when egress rules are present
	case 1:
		b.WriteString("  policyTypes: [Ingress]\n")
		egress = 0
	case 2:
		b.WriteString("  policyTypes: [Egress]\n")
		ingress = 0
	default:
		b.WriteString("  policyTypes: [Ingress, Egress]\n")
	}
	g.kubernetesRules(&b, "ingress", "from", ingress)
	g.kubernetesRules(&b, "egress", "to", egress)
	g.doc("%s", b.String())
}

func (g *gen) kubernetesRules(b *strings.Builder, list, peers string, n int) {
	if n == 0 {
		if g.chance(30) {
			fmt.Fprintf(b, "  %s: []\n", list)
		}
		return
	}
	fmt.Fprintf(b, "  %s:\n", list)
	for range n {
		b.WriteString("  - {")
		var parts []string
		if g.chance(70) {
			var ps []string
			for range 1 + g.r.IntN(2) {
				ps = append(ps, g.kubernetesPeer())
			}
			parts = append(parts, fmt.Sprintf("%s: [%s]", peers, strings.Join(ps, ", ")))
		}
		if g.chance(60) {
			var ps []string
			for range 1 + g.r.IntN(2) {
				ps = append(ps, g.kubernetesPort())
			}
			parts = append(parts, fmt.Sprintf("ports: [%s]", strings.Join(ps, ", ")))
		}
		b.WriteString(strings.Join(parts, ", ") + "}\n")
	}
}

func (g *gen) kubernetesPeer() string {
	switch g.r.IntN(5) {
	case 0:
		return "{namespaceSelector: " + g.labelSelector(nsLabelValues, nsLabelKeys) + "}"
	case 1:
		return "{podSelector: " + g.labelSelector(podLabelValues, podLabelKeys) +
			", namespaceSelector: " + g.labelSelector(nsLabelValues, nsLabelKeys) + "}"
	case 2:
		return "{ipBlock: " + pick(g,
			`{cidr: "10.77.0.0/29", except: ["10.77.0.2/31"]}`, `{cidr: "10.77.0.0/16", except: ["10.77.0.4/30"]}`,
			`{cidr: "10.77.0.0/30"}`, `{cidr: "fd00:77::/125", except: ["fd00:77::2/127"]}`,
			`{cidr: "fd00:77::/64", except: ["fd00:77::4/126"]}`, `{cidr: "fd00:77::/126"}`,
			`{cidr: "192.168.0.0/16", except: ["192.168.0.10/32"]}`, `{cidr: "0.0.0.0/0", except: ["10.77.0.0/16"]}`,
			`{cidr: "::/0", except: ["fd00:77::/64"]}`, `{cidr: "fd00:99::/64"}`) + "}"
	default:
		return "{podSelector: " + g.labelSelector(podLabelValues, podLabelKeys) + "}"
	}
}

func (g *gen) kubernetesPort() string {
	var parts []string
	proto := ""
	if g.chance(75) {
		proto = pick(g, "TCP", "TCP", "UDP")
		parts = append(parts, "protocol: "+proto)
	}
	switch g.r.IntN(5) {
	case 0:
		parts = append(parts, "port: "+pick(g, "web", "alt"))
	case 1:
		parts = append(parts, "port: 80, endPort: "+pick(g, "81", "8080"))
	case 2: // protocol only
		if proto == "" {
			parts = append(parts, "port: 8080")
		}
	default:
		parts = append(parts, "port: "+pick(g, "80", "81", "8080"))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// labelSelector is a Kubernetes LabelSelector over the given labels.
func (g *gen) labelSelector(values map[string][]string, keys []string) string {
	k := pick(g, keys...)
	v := pick(g, values[k]...)
	switch g.r.IntN(6) {
	case 0:
		return "{}"
	case 1:
		return fmt.Sprintf("{matchExpressions: [{key: %s, operator: In, values: [%s, %s]}]}", k, v, pick(g, values[k]...))
	case 2:
		return fmt.Sprintf("{matchExpressions: [{key: %s, operator: NotIn, values: [%s]}]}", k, v)
	case 3:
		return fmt.Sprintf("{matchExpressions: [{key: %s, operator: %s}]}", k, pick(g, "Exists", "DoesNotExist"))
	default:
		return fmt.Sprintf("{matchLabels: {%s: %s}}", k, v)
	}
}

// calicoPolicy writes one projectcalico.org/v3 NetworkPolicy or GlobalNetworkPolicy.
func (g *gen) calicoPolicy(global bool, tiers []string) {
	g.n++
	tier := "default"
	if len(tiers) > 0 && g.chance(60) {
		tier = pick(g, tiers...)
	}
	name := fmt.Sprintf("pol%d", g.n)
	if tier != "default" {
		name = tier + "." + name
	}
	var b strings.Builder
	if global {
		fmt.Fprintf(&b, "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: %s}\nspec:\n", name)
	} else {
		fmt.Fprintf(&b, "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: %s, namespace: %s}\nspec:\n", name, pick(g, Namespaces...))
	}
	if tier != "default" || g.chance(20) {
		fmt.Fprintf(&b, "  tier: %s\n", tier)
	}
	if g.chance(70) {
		fmt.Fprintf(&b, "  order: %d\n", pick(g, 10, 100, 100, 500))
	}
	if g.chance(85) {
		fmt.Fprintf(&b, "  selector: %s\n", quote(g.selector()))
	}
	if global && g.chance(30) {
		fmt.Fprintf(&b, "  namespaceSelector: %s\n", quote(g.namespaceSelector()))
	}
	if g.chance(10) {
		fmt.Fprintf(&b, "  serviceAccountSelector: %s\n", quote(g.serviceAccountSelector()))
	}
	ingress, egress := g.r.IntN(4), g.r.IntN(3)
	switch g.r.IntN(4) {
	case 0:
		b.WriteString("  types: [Ingress]\n")
		egress = 0
	case 1:
		b.WriteString("  types: [Egress]\n")
		ingress = 0
	case 2:
		b.WriteString("  types: [Ingress, Egress]\n")
	}
	for _, dir := range []struct {
		name string
		n    int
	}{{"ingress", ingress}, {"egress", egress}} {
		if dir.n == 0 {
			continue
		}
		fmt.Fprintf(&b, "  %s:\n", dir.name)
		for range dir.n {
			g.calicoRule(&b)
		}
	}
	g.doc("%s", b.String())
}

// calicoRule writes one v3 rule as a YAML list item indented for spec.ingress/egress.
func (g *gen) calicoRule(b *strings.Builder) {
	fmt.Fprintf(b, "  - action: %s\n", pick(g, "Allow", "Allow", "Allow", "Deny", "Deny", "Pass", "Log"))
	family := 0
	if g.chance(30) {
		family = pick(g, 4, 6)
		fmt.Fprintf(b, "    ipVersion: %d\n", family)
	}
	proto := ""
	switch g.r.IntN(20) {
	case 0, 1, 2, 3, 4, 5:
	case 6, 7, 8, 9, 10:
		proto = "TCP"
	case 11, 12, 13, 14:
		proto = "UDP"
	case 15, 16, 17:
		proto = "ICMP"
		if family == 6 || (family == 0 && g.chance(50)) {
			proto = "ICMPv6"
		}
	default:
		proto = pick(g, "6", "17")
	}
	if proto != "" {
		fmt.Fprintf(b, "    protocol: %s\n", proto)
	} else if g.chance(15) {
		fmt.Fprintf(b, "    notProtocol: %s\n", pick(g, "TCP", "UDP", "ICMP", "ICMPv6"))
	}
	if proto == "ICMP" || proto == "ICMPv6" {
		echo, other := 8, 0
		if proto == "ICMPv6" {
			echo, other = 128, 129
		}
		if g.chance(50) {
			fmt.Fprintf(b, "    icmp: %s\n", g.icmp(echo, other))
		}
		if g.chance(20) {
			fmt.Fprintf(b, "    notICMP: %s\n", g.icmp(echo, other))
		}
	}
	ports := proto == "TCP" || proto == "UDP" || proto == "6" || proto == "17"
	src, dst := g.entity(family, false), g.entity(family, ports)
	if src != "" {
		fmt.Fprintf(b, "    source: {%s}\n", src)
	}
	if dst != "" {
		fmt.Fprintf(b, "    destination: {%s}\n", dst)
	}
}

func (g *gen) icmp(echo, other int) string {
	typ := pick(g, echo, echo, other)
	if g.chance(40) {
		return fmt.Sprintf("{type: %d, code: %d}", typ, pick(g, 0, 0, 1))
	}
	return fmt.Sprintf("{type: %d}", typ)
}

// entity is the inside of a v3 EntityRule flow map, or "" for an empty one.
func (g *gen) entity(family int, ports bool) string {
	var parts []string
	if g.chance(35) {
		parts = append(parts, "selector: "+quote(g.selector()))
	}
	if g.chance(12) {
		parts = append(parts, "notSelector: "+quote(g.selector()))
	}
	if g.chance(15) {
		parts = append(parts, "namespaceSelector: "+quote(g.namespaceSelector()))
	}
	if g.chance(10) {
		parts = append(parts, g.serviceAccountMatch())
	}
	if g.chance(18) {
		parts = append(parts, "nets: ["+g.nets(family)+"]")
	}
	if g.chance(12) {
		parts = append(parts, "notNets: ["+g.nets(family)+"]")
	}
	if ports && g.chance(60) {
		parts = append(parts, "ports: ["+g.ports()+"]")
	}
	if ports && g.chance(20) {
		parts = append(parts, "notPorts: ["+g.ports()+"]")
	}
	return strings.Join(parts, ", ")
}

func (g *gen) nets(family int) string {
	var nets []string
	for range 1 + g.r.IntN(2) {
		f := family
		if f == 0 {
			f = pick(g, 4, 6)
		}
		nets = append(nets, g.net(f))
	}
	return strings.Join(nets, ", ")
}

func (g *gen) ports() string {
	var ps []string
	for range 1 + g.r.IntN(2) {
		ps = append(ps, pick(g, "80", "81", "8080", `"80:81"`, `"81:8080"`, "web", "alt"))
	}
	return strings.Join(ps, ", ")
}

func (g *gen) serviceAccountSelector() string {
	return pick(g, "role == 'frontend'", "role != 'backend'", "has(role)", "!has(role)")
}

// serviceAccountMatch is a v3 EntityRule serviceAccounts field: names, a selector over
// the service account's labels, or both.
func (g *gen) serviceAccountMatch() string {
	switch g.r.IntN(3) {
	case 0:
		return fmt.Sprintf("serviceAccounts: {names: [%s]}", pick(g, "robot", "default", "robot, default"))
	case 1:
		return fmt.Sprintf("serviceAccounts: {selector: %s}", quote(g.serviceAccountSelector()))
	}
	return fmt.Sprintf("serviceAccounts: {names: [robot], selector: %s}", quote(g.serviceAccountSelector()))
}
