package controlplane

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// kubeModuleRel is the build module of kube-apiserver, relative to the repository root.
const kubeModuleRel = "test/e2e/kube"

// findEtcd returns the etcd binary: $PATH first, then Debian's location.
func findEtcd() (string, error) {
	if p, err := exec.LookPath("etcd"); err == nil {
		return p, nil
	}
	const debian = "/usr/bin/etcd"
	if _, err := os.Stat(debian); err != nil {
		return "", fmt.Errorf("no etcd in $PATH or at %s: %w", debian, err)
	}
	return debian, nil
}

// apiserverBinary returns a kube-apiserver binary, building it into the user's cache dir
// when no binary for the current test/e2e/kube go.mod+go.sum exists yet. built reports
// whether this call ran the build.
func apiserverBinary(logf func(string, ...any)) (path string, built bool, err error) {
	if p := os.Getenv("PALISADE_KUBE_APISERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", false, fmt.Errorf("PALISADE_KUBE_APISERVER: %w", err)
		}
		return p, false, nil
	}
	moduleDir, err := kubeModuleDir()
	if err != nil {
		return "", false, err
	}
	name, err := binaryName(moduleDir)
	if err != nil {
		return "", false, err
	}
	cacheDir, err := cacheDir()
	if err != nil {
		return "", false, err
	}
	target := filepath.Join(cacheDir, name)
	if isExecutable(target) {
		return target, false, nil
	}

	unlock, err := lockFile(filepath.Join(cacheDir, "kube-apiserver.lock"), logf)
	if err != nil {
		return "", false, err
	}
	defer unlock()
	if isExecutable(target) { // another test package built it while we waited
		return target, false, nil
	}
	logf("controlplane: building %s from %s (first run: several minutes)", name, moduleDir)
	if err := goBuild(moduleDir, target, kubernetesVersion(name)); err != nil {
		return "", false, err
	}
	removeStaleBinaries(cacheDir, name)
	return target, true, nil
}

// kubeModuleDir finds test/e2e/kube from this source file's location, falling back to a
// walk up from the working directory (for binaries built with -trimpath).
func kubeModuleDir() (string, error) {
	var candidates []string
	if _, file, _, ok := runtime.Caller(0); ok {
		candidates = append(candidates, filepath.Join(filepath.Dir(file), "..", "e2e", "kube"))
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			candidates = append(candidates, filepath.Join(dir, kubeModuleRel))
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	for _, c := range candidates {
		if _, err := os.Stat(filepath.Join(c, "go.mod")); err == nil {
			return filepath.Clean(c), nil
		}
	}
	return "", fmt.Errorf("cannot find %s/go.mod (looked in %v)", kubeModuleRel, candidates)
}

var kubernetesRequire = regexp.MustCompile(`(?m)^\s*(?:require\s+)?k8s\.io/kubernetes\s+(v\S+)`)

// binaryName names the cached binary after the Kubernetes version and a hash of go.mod and
// go.sum, so any change to the build module produces a new binary.
func binaryName(moduleDir string) (string, error) {
	h := sha256.New()
	var version string
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(moduleDir, f))
		if err != nil {
			return "", fmt.Errorf("reading build module: %w", err)
		}
		h.Write(data)
		if m := kubernetesRequire.FindSubmatch(data); f == "go.mod" && m != nil {
			version = string(m[1])
		}
	}
	if version == "" {
		return "", fmt.Errorf("%s/go.mod does not require k8s.io/kubernetes", moduleDir)
	}
	return fmt.Sprintf("kube-apiserver-%s-%s", version, hex.EncodeToString(h.Sum(nil))[:12]), nil
}

// cacheDir is $XDG_CACHE_HOME/palisade or ~/.cache/palisade, created if needed.
func cacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "palisade")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating cache dir: %w", err)
	}
	return dir, nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// lockFile takes an exclusive flock so parallel test packages build only once. It logs
// when it has to wait for another holder.
func lockFile(path string, logf func(string, ...any)) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening build lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		logf("controlplane: waiting for another process building kube-apiserver (%s)", path)
		start := time.Now()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		logf("controlplane: waited %s for the build lock", time.Since(start).Round(time.Second))
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// kubernetesVersion extracts "v1.33.13" from a binary name made by binaryName.
func kubernetesVersion(binary string) string {
	v := strings.TrimPrefix(binary, "kube-apiserver-")
	return v[:strings.LastIndex(v, "-")]
}

// versionLDFlags stamps the Kubernetes version into the binary, as release builds do, so
// clients (kubectl version, discovery) see v1.Y.Z rather than v0.0.0-master.
func versionLDFlags(version string) string {
	major, minor, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
	minor, _, _ = strings.Cut(minor, ".")
	var flags []string
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		flags = append(flags,
			"-X", pkg+".gitVersion="+version,
			"-X", pkg+".gitMajor="+major,
			"-X", pkg+".gitMinor="+minor,
			"-X", pkg+".gitTreeState=clean")
	}
	return strings.Join(flags, " ")
}

// goBuild builds kube-apiserver from the build module into target (atomically, via a
// temporary file). It uses only the committed go.sum: no checksum lookups, no go.mod edits.
func goBuild(moduleDir, target, version string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go" // the toolchain location on this machine kind
		if !isExecutable(goBin) {
			return errors.New("no go command in $PATH or GOROOT to build kube-apiserver")
		}
	}
	tmp := fmt.Sprintf("%s.tmp-%d", target, os.Getpid())
	defer os.Remove(tmp)
	cmd := exec.Command(goBin, "build", "-o", tmp, "-ldflags", versionLDFlags(version),
		"k8s.io/kubernetes/cmd/kube-apiserver")
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly -buildvcs=false", "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build k8s.io/kubernetes/cmd/kube-apiserver in %s: %w\n%s",
			moduleDir, err, lastLines(out.String(), 20))
	}
	if err := os.Rename(tmp, target); err != nil {
		return fmt.Errorf("installing kube-apiserver: %w", err)
	}
	return nil
}

// removeStaleBinaries deletes binaries built from older versions of the build module.
func removeStaleBinaries(dir, keep string) {
	old, _ := filepath.Glob(filepath.Join(dir, "kube-apiserver-v*"))
	for _, p := range old {
		if filepath.Base(p) != keep && !strings.Contains(filepath.Base(p), ".tmp-") {
			_ = os.Remove(p)
		}
	}
}

// lastLines returns at most n trailing lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// tailFile returns the last n lines of a log file, or a note why it cannot.
func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return lastLines(string(data), n)
}
