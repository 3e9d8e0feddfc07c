package controlplane

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// AdminUser is the user name of the admin token; it is in group system:masters.
const AdminUser = "palisade-admin"

// credentials are the files kube-apiserver authenticates with.
type credentials struct {
	token      string // admin bearer token
	tokenFile  string // static token file (--token-auth-file)
	privateKey string // service-account signing key (PEM, PKCS#8)
	publicKey  string // its public half (PEM, PKIX)
}

// writeCredentials creates a random admin token in system:masters and a fresh
// service-account key pair in dir.
func writeCredentials(dir string) (credentials, error) {
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return credentials{}, fmt.Errorf("generating admin token: %w", err)
	}
	c := credentials{
		token:      hex.EncodeToString(raw),
		tokenFile:  filepath.Join(dir, "tokens.csv"),
		privateKey: filepath.Join(dir, "sa.key"),
		publicKey:  filepath.Join(dir, "sa.pub"),
	}
	// Format: token,user,uid,"group1,group2"
	line := fmt.Sprintf("%s,%s,%s,\"system:masters\"\n", c.token, AdminUser, AdminUser)
	if err := os.WriteFile(c.tokenFile, []byte(line), 0o600); err != nil {
		return credentials{}, fmt.Errorf("writing token file: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return credentials{}, fmt.Errorf("generating service-account key: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return credentials{}, fmt.Errorf("encoding service-account key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return credentials{}, fmt.Errorf("encoding service-account public key: %w", err)
	}
	if err := writePEM(c.privateKey, "PRIVATE KEY", privDER); err != nil {
		return credentials{}, err
	}
	if err := writePEM(c.publicKey, "PUBLIC KEY", pubDER); err != nil {
		return credentials{}, err
	}
	return c, nil
}

func writePEM(path, blockType string, der []byte) error {
	data := pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// writeKubeconfig writes cp.Kubeconfig and sets cp.Config for the admin token.
func (cp *ControlPlane) writeKubeconfig(caPEM []byte, token string) error {
	const name = "palisade-test"
	kubeconfig := map[string]any{
		"apiVersion": "v1",
		"kind":       "Config",
		"clusters": []any{map[string]any{
			"name":    name,
			"cluster": map[string]any{"server": cp.URL, "certificate-authority-data": caPEM},
		}},
		"users": []any{map[string]any{
			"name": AdminUser,
			"user": map[string]any{"token": token},
		}},
		"contexts": []any{map[string]any{
			"name":    name,
			"context": map[string]any{"cluster": name, "user": AdminUser},
		}},
		"current-context": name,
	}
	data, err := yaml.Marshal(kubeconfig)
	if err != nil {
		return fmt.Errorf("encoding kubeconfig: %w", err)
	}
	cp.Kubeconfig = cp.path("kubeconfig")
	if err := os.WriteFile(cp.Kubeconfig, data, 0o600); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	cp.Config = &rest.Config{
		Host:            cp.URL,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: caPEM},
		QPS:             100,
		Burst:           200,
	}
	return nil
}
