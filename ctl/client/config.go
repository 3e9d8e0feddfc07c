package client

import (
	"errors"
	"fmt"
	"os"
	"strings"

	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Datastore types a Config names.
const (
	DatastoreKubernetes = "kubernetes"
	DatastoreFile       = "file"
)

// DefaultConfigPath is read when --config is not given and the file exists.
const DefaultConfigPath = "/etc/palisade/palisadectl.cfg"

// CalicoctlConfigPath is calicoctl's default, read after DefaultConfigPath so that a
// host set up for calicoctl works unchanged.
const CalicoctlConfigPath = "/etc/calico/calicoctl.cfg"

// Config is the spec of a CalicoAPIConfig (calicoctl.cfg) document, the fields
// palisadectl uses.
type Config struct {
	// DatastoreType is "kubernetes" (also "kdd", the default) or "file".
	DatastoreType string `json:"datastoreType,omitempty"`
	// Kubeconfig is the kubeconfig file (kubernetes); empty: $KUBECONFIG, then ~/.kube/config.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// K8sAPIEndpoint, K8sAPIToken, K8sCAFile, K8sCertFile, K8sKeyFile and
	// K8sInsecureSkipTLSVerify override what the kubeconfig says.
	K8sAPIEndpoint           string `json:"k8sAPIEndpoint,omitempty"`
	K8sAPIToken              string `json:"k8sAPIToken,omitempty"`
	K8sCAFile                string `json:"k8sCAFile,omitempty"`
	K8sCertFile              string `json:"k8sCertFile,omitempty"`
	K8sKeyFile               string `json:"k8sKeyFile,omitempty"`
	K8sInsecureSkipTLSVerify bool   `json:"k8sInsecureSkipTLSVerify,omitempty"`
	// DatastoreDir is the manifest directory of the file datastore.
	DatastoreDir string `json:"datastoreDir,omitempty"`

	// Etcd fields are recognised so that old calicoctl.cfg files give a clear error.
	EtcdEndpoints  string `json:"etcdEndpoints,omitempty"`
	EtcdUsername   string `json:"etcdUsername,omitempty"`
	EtcdPassword   string `json:"etcdPassword,omitempty"`
	EtcdKeyFile    string `json:"etcdKeyFile,omitempty"`
	EtcdCertFile   string `json:"etcdCertFile,omitempty"`
	EtcdCACertFile string `json:"etcdCACertFile,omitempty"`
}

type apiConfigFile struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata"`
	Spec       Config         `json:"spec"`
}

// LoadConfig reads a CalicoAPIConfig file strictly.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading config %s: %w", path, err)
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: invalid YAML: %w", path, err)
	}
	var f apiConfigFile
	strictErrs, err := sigsjson.UnmarshalStrict(js, &f)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if len(strictErrs) > 0 {
		return Config{}, fmt.Errorf("config %s: %w", path, errors.Join(strictErrs...))
	}
	if f.Kind != "CalicoAPIConfig" {
		return Config{}, fmt.Errorf("config %s: kind: want CalicoAPIConfig, got %q", path, f.Kind)
	}
	switch f.APIVersion {
	case "projectcalico.org/v3", "projectcalico.org/v1":
	default:
		return Config{}, fmt.Errorf("config %s: apiVersion: want projectcalico.org/v3, got %q", path, f.APIVersion)
	}
	if err := f.Spec.check(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return f.Spec, nil
}

// ConfigFromEnv builds a Config from DATASTORE_TYPE, DATASTORE_DIR, KUBECONFIG and the
// K8S_* variables (getenv is os.Getenv outside tests).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		DatastoreType:            getenv("DATASTORE_TYPE"),
		DatastoreDir:             getenv("DATASTORE_DIR"),
		Kubeconfig:               getenv("KUBECONFIG"),
		K8sAPIEndpoint:           getenv("K8S_API_ENDPOINT"),
		K8sAPIToken:              getenv("K8S_API_TOKEN"),
		K8sCAFile:                getenv("K8S_CA_FILE"),
		K8sCertFile:              getenv("K8S_CERT_FILE"),
		K8sKeyFile:               getenv("K8S_KEY_FILE"),
		K8sInsecureSkipTLSVerify: getenv("K8S_INSECURE_SKIP_TLS_VERIFY") == "true",
	}
	if c.DatastoreType == "" && c.DatastoreDir != "" {
		c.DatastoreType = DatastoreFile
	}
	if err := c.check(); err != nil {
		return Config{}, fmt.Errorf("environment: %w", err)
	}
	return c, nil
}

// check normalises DatastoreType and requires what the type needs.
func (c *Config) check() error {
	switch strings.ToLower(c.DatastoreType) {
	case "", DatastoreKubernetes, "kdd":
		c.DatastoreType = DatastoreKubernetes
	case DatastoreFile:
		c.DatastoreType = DatastoreFile
		if c.DatastoreDir == "" {
			return errors.New("datastoreType file needs datastoreDir (or DATASTORE_DIR)")
		}
	case "etcdv3":
		return errors.New("datastoreType etcdv3 is not supported: use kubernetes or file")
	default:
		return fmt.Errorf("datastoreType %q: want kubernetes or file", c.DatastoreType)
	}
	return nil
}

// New opens the datastore a Config names.
func New(c Config, opts Options) (Client, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if c.DatastoreType == DatastoreFile {
		return NewFile(c.DatastoreDir, opts)
	}
	return NewKubernetesFromConfig(c)
}
