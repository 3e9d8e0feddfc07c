package install

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/palisadenet/palisade/agent"
	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/controllers"
	"github.com/palisadenet/palisade/manifests/crds"
	"github.com/palisadenet/palisade/routing/ipam"
)

var update = flag.Bool("update", false, "rewrite manifests/palisade.yaml from Render")

const manifestPath = "../palisade.yaml"

// TestInstallFileUpToDate keeps manifests/palisade.yaml equal to what Render produces
// from manifests/crds and base.yaml.
func TestInstallFileUpToDate(t *testing.T) {
	want, err := Render(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(manifestPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatalf("reading %s (generate it with go run ./manifests/install/gen): %v", manifestPath, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("manifests/palisade.yaml is stale; run `go run ./manifests/install/gen` (or this test with -update). Diff (-file +rendered):\n%s",
			cmp.Diff(string(got), string(want)))
	}
}

func TestRenderImage(t *testing.T) {
	out, err := Render(Options{Image: "registry.example/palisade:test"})
	if err != nil {
		t.Fatal(err)
	}
	m := parse(t, out)
	for _, c := range m.allContainers() {
		if c.Image != "registry.example/palisade:test" {
			t.Errorf("container %s: image %q, want the one asked for", c.Name, c.Image)
		}
	}
	if _, err := Render(Options{Image: "bad image"}); err == nil {
		t.Error("Render accepted an image reference with a space")
	}
}

// manifest is the committed install file, decoded strictly into typed objects.
type manifest struct {
	objects      []runtime.Object
	crds         []*apiextensionsv1.CustomResourceDefinition
	daemonSet    *appsv1.DaemonSet
	deployment   *appsv1.Deployment
	configMap    *corev1.ConfigMap
	clusterRoles map[string]*rbacv1.ClusterRole
	roles        map[string]*rbacv1.Role
	bindings     []runtime.Object
}

func (m *manifest) allContainers() []corev1.Container {
	var out []corev1.Container
	for _, spec := range []corev1.PodSpec{m.daemonSet.Spec.Template.Spec, m.deployment.Spec.Template.Spec} {
		out = append(out, spec.InitContainers...)
		out = append(out, spec.Containers...)
	}
	return out
}

func loadManifest(t *testing.T) *manifest {
	t.Helper()
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	return parse(t, data)
}

func parse(t *testing.T, data []byte) *manifest {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	decoder := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	objs, err := Objects(data)
	if err != nil {
		t.Fatal(err)
	}
	m := &manifest{clusterRoles: map[string]*rbacv1.ClusterRole{}, roles: map[string]*rbacv1.Role{}}
	for _, u := range objs {
		raw, err := json.Marshal(u.Object)
		if err != nil {
			t.Fatal(err)
		}
		obj, _, err := decoder.Decode(raw, nil, nil)
		if err != nil {
			t.Fatalf("%s %s does not decode strictly: %v", u.GetKind(), u.GetName(), err)
		}
		m.objects = append(m.objects, obj)
		switch o := obj.(type) {
		case *apiextensionsv1.CustomResourceDefinition:
			m.crds = append(m.crds, o)
		case *appsv1.DaemonSet:
			m.daemonSet = o
		case *appsv1.Deployment:
			m.deployment = o
		case *corev1.ConfigMap:
			m.configMap = o
		case *rbacv1.ClusterRole:
			m.clusterRoles[o.Name] = o
		case *rbacv1.Role:
			m.roles[o.Name] = o
		case *rbacv1.ClusterRoleBinding, *rbacv1.RoleBinding:
			m.bindings = append(m.bindings, o)
		}
	}
	if m.daemonSet == nil || m.deployment == nil || m.configMap == nil {
		t.Fatal("manifest lacks the DaemonSet, the Deployment or the ConfigMap")
	}
	return m
}

// TestInventory: every v3 CRD is in the file, before anything else, and the objects a
// user installs are all there.
func TestInventory(t *testing.T) {
	m := loadManifest(t)
	want, err := crds.Load(crds.SetV3)
	if err != nil {
		t.Fatal(err)
	}
	var wantNames, gotNames []string
	for _, c := range want {
		wantNames = append(wantNames, c.Name)
	}
	for _, c := range m.crds {
		gotNames = append(gotNames, c.Name)
	}
	if diff := cmp.Diff(wantNames, gotNames); diff != "" {
		t.Errorf("CRDs in the install file differ from manifests/crds/v3 (-want +got):\n%s", diff)
	}
	for i, o := range m.objects {
		if _, isCRD := o.(*apiextensionsv1.CustomResourceDefinition); isCRD && i >= len(m.crds) {
			t.Errorf("CRD at position %d comes after other objects; CRDs must be first", i)
		}
	}
	var kinds []string
	for _, o := range m.objects[len(m.crds):] {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			t.Fatal(err)
		}
		md := u["metadata"].(map[string]any)
		kinds = append(kinds, fmt.Sprintf("%s %v/%v", o.GetObjectKind().GroupVersionKind().Kind, md["namespace"], md["name"]))
	}
	wantKinds := []string{
		"ValidatingAdmissionPolicy <nil>/palisade-port-ranges",
		"ValidatingAdmissionPolicyBinding <nil>/palisade-port-ranges",
		"ServiceAccount kube-system/palisade-node",
		"ServiceAccount kube-system/palisade-controllers",
		"ClusterRole <nil>/palisade-node",
		"ClusterRoleBinding <nil>/palisade-node",
		"ClusterRole <nil>/palisade-controllers",
		"ClusterRoleBinding <nil>/palisade-controllers",
		"Role kube-system/palisade-controllers",
		"RoleBinding kube-system/palisade-controllers",
		"ConfigMap kube-system/palisade-config",
		"DaemonSet kube-system/palisade-node",
		"Deployment kube-system/palisade-controllers",
	}
	if diff := cmp.Diff(wantKinds, kinds); diff != "" {
		t.Errorf("objects after the CRDs (-want +got):\n%s", diff)
	}
}

func TestEveryContainerHasRequests(t *testing.T) {
	m := loadManifest(t)
	for _, c := range m.allContainers() {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			q, ok := c.Resources.Requests[r]
			if !ok || q.IsZero() {
				t.Errorf("container %s has no %s request", c.Name, r)
			}
		}
	}
}

// nodeEnv resolves the DaemonSet container's environment as the kubelet would on
// node "node-1" (fieldRefs and the ConfigMap's keys).
func resolveEnv(t *testing.T, m *manifest, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil:
			switch e.ValueFrom.FieldRef.FieldPath {
			case "spec.nodeName":
				env[e.Name] = "node-1"
			case "metadata.namespace":
				env[e.Name] = "kube-system"
			case "metadata.name":
				env[e.Name] = "pod-1"
			default:
				t.Fatalf("env %s: unexpected fieldRef %s", e.Name, e.ValueFrom.FieldRef.FieldPath)
			}
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			v, ok := m.configMap.Data[ref.Key]
			if ref.Name != m.configMap.Name || !ok {
				t.Fatalf("env %s refers to ConfigMap %s key %s, which the manifest does not have", e.Name, ref.Name, ref.Key)
			}
			env[e.Name] = v
		default:
			t.Fatalf("env %s: unsupported valueFrom", e.Name)
		}
	}
	return env
}

func containerNamed(t *testing.T, cs []corev1.Container, name string) corev1.Container {
	t.Helper()
	i := slices.IndexFunc(cs, func(c corev1.Container) bool { return c.Name == name })
	if i < 0 {
		t.Fatalf("no container %s", name)
	}
	return cs[i]
}

// TestNodeEnvIsUnderstood passes the DaemonSet's environment to the agent's own
// configuration reader and to IPAM's default-pool reader: no error, no warning, and
// every variable set is one of them reads.
func TestNodeEnvIsUnderstood(t *testing.T) {
	m := loadManifest(t)
	c := containerNamed(t, m.daemonSet.Spec.Template.Spec.Containers, "palisade-node")
	env := resolveEnv(t, m, c)
	read := map[string]bool{}
	getenv := func(name string) string { read[name] = true; return env[name] }
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	cfg, warnings, err := agent.ConfigFromEnv(getenv, environ)
	if err != nil {
		t.Fatalf("the agent rejects the DaemonSet's environment: %v", err)
	}
	if len(warnings) > 0 {
		t.Errorf("the agent warns about the DaemonSet's environment: %q", warnings)
	}
	if cfg.NodeName != "node-1" || cfg.DatastoreType != "kubernetes" || !cfg.BGPEnabled() {
		t.Errorf("agent config: node %q datastore %q bgp %v; want node-1 from spec.nodeName, kubernetes, bgp", cfg.NodeName, cfg.DatastoreType, cfg.BGPEnabled())
	}

	store := ipam.NewMemoryStore(nil, nil)
	if err := ipam.New(store, zap.NewNop()).EnsureDefaultPools(context.Background(), getenv); err != nil {
		t.Fatalf("IPAM rejects the DaemonSet's pool settings: %v", err)
	}
	pools, err := store.Pools(context.Background())
	if err != nil || len(pools) != 1 {
		t.Fatalf("default pools: %v, %v; want one IPv4 pool", pools, err)
	}
	if p := pools[0].Spec; p.CIDR != env["CALICO_IPV4POOL_CIDR"] || p.IPIPMode != v3.EncapAlways {
		t.Errorf("default pool %s ipip %s; want %s with IPIP Always", p.CIDR, p.IPIPMode, env["CALICO_IPV4POOL_CIDR"])
	}
	for name := range env {
		if !read[name] {
			t.Errorf("DaemonSet sets %s, which neither the agent nor IPAM reads", name)
		}
	}
}

// TestNodeProbesPointAtTheAgent: the probes ask the address the agent's configuration
// makes it listen on, at the paths it serves.
func TestNodeProbesPointAtTheAgent(t *testing.T) {
	m := loadManifest(t)
	c := containerNamed(t, m.daemonSet.Spec.Template.Spec.Containers, "palisade-node")
	env := resolveEnv(t, m, c)
	cfg, _, err := agent.ConfigFromEnv(func(n string) string { return env[n] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		probe *corev1.Probe
		path  string
	}{{c.LivenessProbe, "/liveness"}, {c.ReadinessProbe, "/readiness"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no httpGet probe for %s", p.path)
			continue
		}
		g := p.probe.HTTPGet
		addr := fmt.Sprintf("%s:%s", g.Host, g.Port.String())
		if addr != cfg.HealthAddr || g.Path != p.path {
			t.Errorf("probe asks %s%s; the agent serves %s on %s", addr, g.Path, p.path, cfg.HealthAddr)
		}
	}
}

func TestDaemonSetShape(t *testing.T) {
	m := loadManifest(t)
	spec := m.daemonSet.Spec.Template.Spec
	if !spec.HostNetwork {
		t.Error("palisade-node must use the host network")
	}
	if spec.PriorityClassName != "system-node-critical" {
		t.Errorf("priorityClassName %q, want system-node-critical", spec.PriorityClassName)
	}
	if spec.ServiceAccountName != "palisade-node" {
		t.Errorf("serviceAccountName %q", spec.ServiceAccountName)
	}
	for _, effect := range []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute} {
		// A toleration with no key and operator Exists matches every taint of its
		// effect (every effect when the effect is empty).
		tolerAll := func(tol corev1.Toleration) bool {
			return tol.Key == "" && tol.Operator == corev1.TolerationOpExists && (tol.Effect == "" || tol.Effect == effect)
		}
		if !slices.ContainsFunc(spec.Tolerations, tolerAll) {
			t.Errorf("palisade-node does not tolerate every %s taint", effect)
		}
	}
	for _, c := range append(spec.InitContainers, spec.Containers...) {
		if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
			t.Errorf("container %s is not privileged", c.Name)
		}
	}
	hostPaths := map[string]string{}
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
	}
	mounts := func(c corev1.Container) map[string]string { // host path → mount path
		out := map[string]string{}
		for _, vm := range c.VolumeMounts {
			out[hostPaths[vm.Name]] = vm.MountPath
		}
		return out
	}
	node := mounts(containerNamed(t, spec.Containers, "palisade-node"))
	for _, p := range []string{"/lib/modules", "/run/xtables.lock", "/var/run/palisade"} {
		if node[p] != p {
			t.Errorf("palisade-node mounts host %s at %q, want the same path", p, node[p])
		}
	}
	cni := mounts(containerNamed(t, spec.InitContainers, "install-cni"))
	for host, in := range map[string]string{"/opt/cni/bin": "/host/opt/cni/bin", "/etc/cni/net.d": "/host/etc/cni/net.d",
		"/var/log/palisade": "/host/var/log/palisade"} {
		if cni[host] != in {
			t.Errorf("install-cni mounts host %s at %q, want %s", host, cni[host], in)
		}
	}
}

func TestDeploymentShape(t *testing.T) {
	m := loadManifest(t)
	d := m.deployment
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas %v, want 1", d.Spec.Replicas)
	}
	spec := d.Spec.Template.Spec
	if spec.ServiceAccountName != "palisade-controllers" || spec.HostNetwork {
		t.Errorf("serviceAccount %q hostNetwork %v; want palisade-controllers on the pod network", spec.ServiceAccountName, spec.HostNetwork)
	}
	c := containerNamed(t, spec.Containers, "palisade-controllers")
	if c.SecurityContext == nil || c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
		t.Error("palisade-controllers must not be privileged")
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe %+v, want httpGet /healthz", c.LivenessProbe)
	}
}

// TestRBACIsNarrow: no wildcards, nothing that reads secrets or grants more rights.
func TestRBACIsNarrow(t *testing.T) {
	m := loadManifest(t)
	check := func(owner string, rules []rbacv1.PolicyRule) {
		if len(rules) == 0 {
			t.Errorf("%s has no rules", owner)
		}
		for i, r := range rules {
			for _, list := range [][]string{r.Verbs, r.Resources, r.APIGroups, r.ResourceNames} {
				if slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, "*") }) {
					t.Errorf("%s rule %d has a wildcard: %+v", owner, i, r)
				}
			}
			for _, v := range r.Verbs {
				if v == "escalate" || v == "bind" || v == "impersonate" || v == "deletecollection" {
					t.Errorf("%s rule %d grants %s", owner, i, v)
				}
			}
			for _, res := range r.Resources {
				if res == "secrets" || strings.Contains(res, "/") {
					t.Errorf("%s rule %d grants %s", owner, i, res)
				}
			}
			if len(r.NonResourceURLs) > 0 {
				t.Errorf("%s rule %d grants non-resource URLs", owner, i)
			}
		}
	}
	if len(m.clusterRoles) != 2 || len(m.roles) != 1 {
		t.Errorf("%d ClusterRoles and %d Roles, want 2 and 1", len(m.clusterRoles), len(m.roles))
	}
	for name, r := range m.clusterRoles {
		check("ClusterRole "+name, r.Rules)
	}
	for name, r := range m.roles {
		check("Role "+name, r.Rules)
	}
}

// TestInstallCNIScript runs the init container's script against temporary directories
// and checks what the runtime and the plugin will read.
func TestInstallCNIScript(t *testing.T) {
	for _, tool := range []string{"sh", "base64", "sed", "tr"} {
		if _, err := lookPath(tool); err != nil {
			t.Skipf("%s not found: %v", tool, err)
		}
	}
	m := loadManifest(t)
	init := containerNamed(t, m.daemonSet.Spec.Template.Spec.InitContainers, "install-cni")
	if len(init.Command) != 3 || init.Command[0] != "/bin/sh" || init.Command[1] != "-c" {
		t.Fatalf("install-cni command %q, want /bin/sh -c SCRIPT", init.Command)
	}
	for _, tc := range []struct{ host, wantServer string }{
		{"10.96.0.1", "https://10.96.0.1:443"},
		{"fd00:10:96::1", "https://[fd00:10:96::1]:443"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			res := runInstallCNI(t, m, init, tc.host)
			checkInstalledCNI(t, res, tc.wantServer)
			// A restarted pod runs it again over its own files.
			if out, err := res.run(); err != nil {
				t.Fatalf("second run failed: %v\n%s", err, out)
			}
			checkInstalledCNI(t, res, tc.wantServer)
		})
	}
	t.Run("missing token fails", func(t *testing.T) {
		res := prepareInstallCNI(t, m, init, "10.96.0.1")
		if err := os.Remove(filepath.Join(res.saDir, "token")); err != nil {
			t.Fatal(err)
		}
		out, err := res.run()
		if err == nil {
			t.Fatalf("install-cni succeeded without a token:\n%s", out)
		}
		if !strings.Contains(out, "cannot read") {
			t.Errorf("error output does not say what is missing:\n%s", out)
		}
	})
}

// TestControllersEnvIsUnderstood: the Deployment's environment is valid for
// palisade-controllers and every variable it sets is read.
func TestControllersEnvIsUnderstood(t *testing.T) {
	m := loadManifest(t)
	c := containerNamed(t, m.deployment.Spec.Template.Spec.Containers, "palisade-controllers")
	env := resolveEnv(t, m, c)
	read := map[string]bool{}
	getenv := func(name string) string { read[name] = true; return env[name] }
	noFile := func(string) ([]byte, error) { return nil, os.ErrNotExist }
	cfg, err := controllers.ConfigFromEnv(getenv, noFile, func() (string, error) { return "", errors.New("no hostname") })
	if err != nil {
		t.Fatalf("palisade-controllers rejects the Deployment's environment: %v", err)
	}
	for name := range env {
		if !read[name] {
			t.Errorf("Deployment sets %s, which palisade-controllers does not read", name)
		}
	}
	if cfg.Identity != "pod-1" || cfg.Namespace != "kube-system" {
		t.Errorf("identity %q namespace %q; want the pod's name and namespace", cfg.Identity, cfg.Namespace)
	}
	if cfg.GCGrace < cfg.GCPeriod {
		t.Errorf("grace %s shorter than the period %s: an address would go after two scans whatever the grace", cfg.GCGrace, cfg.GCPeriod)
	}
	_, port, _ := strings.Cut(cfg.HealthAddr, ":")
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Port.String() != port || p.HTTPGet.Path != "/healthz" {
			t.Errorf("probe %+v does not ask /healthz on port %s (HEALTH_ADDR %s)", p, port, cfg.HealthAddr)
		}
	}
	// The Role names the Lease the controllers use.
	role := m.roles["palisade-controllers"]
	if role == nil || !slices.ContainsFunc(role.Rules, func(r rbacv1.PolicyRule) bool { return slices.Contains(r.ResourceNames, controllers.LeaseName) }) {
		t.Errorf("the Role does not grant the Lease %s", controllers.LeaseName)
	}
}

// TestImageProvidesCommands: every binary the manifest runs is one the Dockerfile
// builds, and the Dockerfile builds every command of cmd/.
func TestImageProvidesCommands(t *testing.T) {
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var built []string
	for _, line := range strings.Split(string(dockerfile), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "for cmd in "); ok {
			list, _, _ := strings.Cut(rest, ";")
			built = strings.Fields(list)
		}
	}
	if !strings.Contains(string(dockerfile), "COPY --from=build /out/ /usr/local/bin/") {
		t.Fatal("the Dockerfile does not install the built commands in /usr/local/bin")
	}
	cmds, err := os.ReadDir("../../cmd")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range cmds {
		if c.IsDir() {
			want = append(want, c.Name())
		}
	}
	slices.Sort(built)
	if diff := cmp.Diff(want, built); diff != "" {
		t.Errorf("commands built by the Dockerfile (-cmd/ +Dockerfile):\n%s", diff)
	}
	m := loadManifest(t)
	for _, c := range m.allContainers() {
		bin := c.Command[0]
		if c.Name == "install-cni" {
			bin = "/usr/local/bin/palisade-cni" // the script's default PALISADE_CNI_BINARY
			if !strings.Contains(c.Command[2], bin) {
				t.Errorf("install-cni does not copy %s", bin)
			}
		}
		name, ok := strings.CutPrefix(bin, "/usr/local/bin/")
		if !ok || !slices.Contains(built, name) {
			t.Errorf("container %s runs %s, which the image does not provide", c.Name, bin)
		}
	}
}
