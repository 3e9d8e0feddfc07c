package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// process is a child process with its log file.
type process struct {
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{} // closed when the process has exited
	err  error         // exit status, valid after done
}

// startProcess runs bin with args, stdout and stderr going to logPath. The child gets
// SIGKILL if the test binary dies without cleaning up.
func startProcess(bin string, args []string, logPath string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating log %s: %w", logPath, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &process{cmd: cmd, log: logFile, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stopProcess sends SIGTERM, waits up to 15 s, then SIGKILLs.
func stopProcess(t testing.TB, name string, p *process) {
	defer p.log.Close()
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Logf("controlplane: %s ignored SIGTERM for 15s, killing it", name)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// freePorts asks the kernel for n distinct free loopback ports. They are released before
// use, so a start that loses a race is retried by the caller.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// startAttempts bounds the retries after a port race.
const startAttempts = 3

// startEtcd starts a single-member etcd on free loopback ports with a fresh data dir.
func (cp *ControlPlane) startEtcd(ctx context.Context, bin string, timeout time.Duration) (*process, error) {
	cp.etcdLog = cp.path("etcd.log")
	var lastErr error
	for attempt := range startAttempts {
		ports, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		clientURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
		peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
		args := []string{
			"--name=default",
			"--data-dir=" + cp.path(fmt.Sprintf("etcd-data-%d", attempt)),
			"--listen-client-urls=" + clientURL,
			"--advertise-client-urls=" + clientURL,
			"--listen-peer-urls=" + peerURL,
			"--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=default=" + peerURL,
			"--log-level=warn",
		}
		p, err := startProcess(bin, args, cp.etcdLog)
		if err != nil {
			return nil, err
		}
		err = waitFor(ctx, p, timeout, func() (bool, string) {
			return etcdHealthy(clientURL + "/health")
		})
		if err == nil {
			cp.EtcdURL = clientURL
			return p, nil
		}
		lastErr = fmt.Errorf("etcd not healthy: %w\netcd log tail:\n%s", err, tailFile(cp.etcdLog, 20))
		stopProcess(nopTB{}, "etcd", p)
		if !strings.Contains(tailFile(cp.etcdLog, 50), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

func etcdHealthy(url string) (bool, string) {
	resp, err := http.Get(url)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"true"`), string(body)
}

// startAPIServer writes credentials, starts kube-apiserver against cp's etcd and waits for
// /readyz, then writes the kubeconfig.
func (cp *ControlPlane) startAPIServer(ctx context.Context, logf func(string, ...any), bin string, opts Options) (*process, error) {
	creds, err := writeCredentials(cp.Dir)
	if err != nil {
		return nil, err
	}
	cp.apiserverLog = cp.path("kube-apiserver.log")
	certDir := cp.path("apiserver-certs")
	var lastErr error
	for range startAttempts {
		ports, err := freePorts(1)
		if err != nil {
			return nil, err
		}
		url := fmt.Sprintf("https://127.0.0.1:%d", ports[0])
		args := append([]string{
			"--etcd-servers=" + cp.EtcdURL,
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			// The kubernetes Service's endpoints may not be loopback; nothing here
			// routes service IPs anyway, so do not reconcile them (avoids an error loop).
			"--endpoint-reconciler-type=none",
			fmt.Sprintf("--secure-port=%d", ports[0]),
			"--cert-dir=" + certDir,
			"--token-auth-file=" + creds.tokenFile,
			"--authorization-mode=RBAC",
			"--service-account-key-file=" + creds.publicKey,
			"--service-account-signing-key-file=" + creds.privateKey,
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-cluster-ip-range=10.96.0.0/16",
			"--allow-privileged=true",
		}, opts.APIServerArgs...)
		p, err := startProcess(bin, args, cp.apiserverLog)
		if err != nil {
			return nil, err
		}
		started := time.Now()
		lastReport := started
		var caPEM []byte
		err = waitFor(ctx, p, opts.ReadyTimeout, func() (bool, string) {
			ok, status, ca := apiserverReady(url, certDir, creds.token)
			caPEM = ca
			if time.Since(lastReport) >= 10*time.Second {
				lastReport = time.Now()
				logf("controlplane: waiting for kube-apiserver /readyz (%s): %s",
					time.Since(started).Round(time.Second), readyzSummary(status))
			}
			return ok, status
		})
		if err == nil {
			cp.URL = url
			if err := cp.writeKubeconfig(caPEM, creds.token); err != nil {
				stopProcess(nopTB{}, "kube-apiserver", p)
				return nil, err
			}
			return p, nil
		}
		lastErr = fmt.Errorf("kube-apiserver not ready: %w\nkube-apiserver log tail:\n%s",
			err, tailFile(cp.apiserverLog, 30))
		stopProcess(nopTB{}, "kube-apiserver", p)
		if !strings.Contains(tailFile(cp.apiserverLog, 50), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

// apiserverReady asks /readyz with the admin token, trusting the self-signed serving
// certificate the apiserver wrote into certDir. It returns that CA for the kubeconfig.
func apiserverReady(url, certDir, token string) (ok bool, status string, caPEM []byte) {
	caPEM, err := os.ReadFile(certDir + "/apiserver.crt")
	if err != nil {
		return false, "serving certificate not written yet", nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return false, "serving certificate not complete yet", nil
	}
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	req, err := http.NewRequest(http.MethodGet, url+"/readyz", nil)
	if err != nil {
		return false, err.Error(), nil
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return false, err.Error(), nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode == http.StatusOK, strings.TrimSpace(string(body)), caPEM
}

// waitFor polls check every 200ms until it succeeds, the process exits, or timeout.
func waitFor(ctx context.Context, p *process, timeout time.Duration, check func() (bool, string)) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, status := check()
		if ok {
			return nil
		}
		last = status
		if p.exited() {
			return fmt.Errorf("process exited (%v); last status: %s", p.err, last)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s; last status: %s", timeout, lastLines(last, 15))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting: %w; last status: %s", ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// readyzSummary shortens a /readyz body to its failing checks, or its first line.
func readyzSummary(s string) string {
	// /readyz lists every check; show only the failing ones.
	var failing []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "[-]") {
			failing = append(failing, strings.Fields(l)[0])
		}
	}
	if len(failing) > 0 {
		return "failing " + strings.Join(failing, " ")
	}
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// nopTB lets stopProcess run where no test logger applies.
type nopTB struct{ testing.TB }

func (nopTB) Logf(string, ...any) {}
