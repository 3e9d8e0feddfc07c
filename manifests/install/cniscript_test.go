package install

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/palisadenet/palisade/cni"
)

var lookPath = exec.LookPath

// installCNIRun is one run of the install-cni script in a private directory tree.
type installCNIRun struct {
	binDir, netDir, saDir string
	script                string
	env                   []string
	ca, token, plugin     []byte
}

func (r *installCNIRun) run() (string, error) {
	cmd := exec.Command("/bin/sh", "-c", r.script)
	cmd.Env = r.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// prepareInstallCNI lays out a fake service-account directory and plugin binary and
// points the script at them through the variables it honours for that purpose.
func prepareInstallCNI(t *testing.T, m *manifest, init corev1.Container, serviceHost string) *installCNIRun {
	t.Helper()
	root := t.TempDir()
	r := &installCNIRun{
		binDir: filepath.Join(root, "opt/cni/bin"),
		netDir: filepath.Join(root, "etc/cni/net.d"),
		saDir:  filepath.Join(root, "sa"),
		script: init.Command[2],
		ca:     []byte("-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"),
		token:  []byte("eyJhbGciOiJSUzI1NiJ9.payload.signature"),
		plugin: []byte("#!/bin/sh\necho fake plugin\n"),
	}
	if err := os.MkdirAll(r.saDir, 0o755); err != nil {
		t.Fatal(err)
	}
	plugin := filepath.Join(root, "palisade-cni")
	for path, data := range map[string][]byte{
		filepath.Join(r.saDir, "ca.crt"): r.ca,
		filepath.Join(r.saDir, "token"):  r.token,
		plugin:                           r.plugin,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"CNI_BIN_DIR=" + r.binDir, "CNI_NET_DIR=" + r.netDir, "SERVICEACCOUNT_DIR=" + r.saDir,
		"PALISADE_CNI_BINARY=" + plugin,
		"KUBERNETES_SERVICE_HOST=" + serviceHost, "KUBERNETES_SERVICE_PORT=443",
	}
	for name, value := range resolveEnv(t, m, init) {
		r.env = append(r.env, name+"="+value)
	}
	return r
}

func runInstallCNI(t *testing.T, m *manifest, init corev1.Container, serviceHost string) *installCNIRun {
	t.Helper()
	r := prepareInstallCNI(t, m, init, serviceHost)
	if out, err := r.run(); err != nil {
		t.Fatalf("install-cni failed: %v\n%s", err, out)
	}
	return r
}

func checkInstalledCNI(t *testing.T, r *installCNIRun, wantServer string) {
	t.Helper()
	bin := filepath.Join(r.binDir, "palisade-cni")
	st, err := os.Stat(bin)
	if err != nil {
		t.Fatalf("plugin not installed: %v", err)
	}
	if got, _ := os.ReadFile(bin); string(got) != string(r.plugin) || st.Mode().Perm() != 0o755 {
		t.Errorf("installed plugin: mode %v, content %q; want 0755 and the image's binary", st.Mode().Perm(), got)
	}

	kubeconfig := filepath.Join(r.netDir, "palisade-kubeconfig")
	kst, err := os.Stat(kubeconfig)
	if err != nil {
		t.Fatalf("kubeconfig not written: %v", err)
	}
	if kst.Mode().Perm()&0o077 != 0 {
		t.Errorf("kubeconfig mode %v: the token must not be readable by others", kst.Mode().Perm())
	}
	kc, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatalf("kubeconfig does not load: %v", err)
	}
	rc, err := clientcmd.NewDefaultClientConfig(*kc, nil).ClientConfig()
	if err != nil {
		t.Fatalf("kubeconfig gives no client config: %v", err)
	}
	if rc.Host != wantServer || rc.BearerToken != string(r.token) || string(rc.CAData) != string(r.ca) {
		t.Errorf("kubeconfig: host %q token %q ca %q; want %q, the service account's token and CA", rc.Host, rc.BearerToken, rc.CAData, wantServer)
	}

	entries, _ := filepath.Glob(filepath.Join(r.netDir, "*"))
	hidden, _ := filepath.Glob(filepath.Join(r.netDir, ".*"))
	if len(hidden) > 0 {
		t.Errorf("temporary files left behind: %v", hidden)
	}
	conflist := filepath.Join(r.netDir, "10-palisade.conflist")
	data, err := os.ReadFile(conflist)
	if err != nil {
		t.Fatalf("conflist not written (dir has %v): %v", entries, err)
	}
	var list struct {
		Name       string                       `json:"name"`
		CNIVersion string                       `json:"cniVersion"`
		Plugins    []map[string]json.RawMessage `json:"plugins"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatalf("conflist is not JSON: %v\n%s", err, data)
	}
	if len(list.Plugins) == 0 {
		t.Fatal("conflist has no plugins")
	}
	entry := list.Plugins[0]
	entry["name"], _ = json.Marshal(list.Name)
	entry["cniVersion"], _ = json.Marshal(list.CNIVersion)
	raw, _ := json.Marshal(entry)
	conf, err := cni.ParseConfig(raw, cni.Env{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatalf("palisade-cni rejects the installed conflist: %v", err)
	}
	if conf.Type != "palisade-cni" || conf.MTU != 1450 || conf.Nodename != "node-1" ||
		conf.Kubernetes.Kubeconfig != cni.DefaultKubeconfig || conf.DatastoreType != cni.DatastoreKubernetes {
		t.Errorf("installed conf: type %q mtu %d node %q kubeconfig %q datastore %q; want palisade-cni, veth_mtu 1450, node-1, %s, kubernetes",
			conf.Type, conf.MTU, conf.Nodename, conf.Kubernetes.Kubeconfig, conf.DatastoreType, cni.DefaultKubeconfig)
	}
	if got := cni.HandleID(conf.Name, "c"); got != "k8s-pod-network.c" {
		t.Errorf("handles would be %q, want Calico's k8s-pod-network.<containerID>", got)
	}
}
