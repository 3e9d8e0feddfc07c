package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/palisadenet/palisade/internal/netnstest"
)

// node is one simulated node: a namespace on the bridge running palisade-node.
type node struct {
	name    string
	ns      *netnstest.NS
	addr    netip.Prefix
	socket  string // PALISADE_STATUS_SOCKET
	logPath string
	agent   *process
}

// process is a started child and its exit.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// The agents get SIGKILL when the test process dies (Pdeathsig), so a crashed run
// leaves no agent behind. Pdeathsig fires when the forking *thread* exits, so every
// child is started from one goroutine locked to its thread for the process's life.
var (
	spawnOnce sync.Once
	spawnReqs = make(chan spawnReq)
)

type spawnReq struct {
	cmd   *exec.Cmd
	reply chan error
}

func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the test
			for r := range spawnReqs {
				r.reply <- r.cmd.Start()
			}
		}()
	})
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	reply := make(chan error)
	spawnReqs <- spawnReq{cmd: cmd, reply: reply}
	return <-reply
}

// startAgent runs palisade-node in the node's namespace with the environment a
// calico.yaml-style DaemonSet sets, appending to the node's log.
func (c *cluster) startAgent(n *node) {
	c.t.Helper()
	logFile, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", n.ns.Name, filepath.Join(c.bin, "palisade-node"))
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"DATASTORE_TYPE=kubernetes",
		"KUBECONFIG=" + c.cp.Kubeconfig,
		"NODENAME=" + n.name,
		"IP=" + n.addr.String(),
		"PALISADE_STATUS_SOCKET=" + n.socket,
		"FELIX_LOGSEVERITYSCREEN=Info",
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := spawn(cmd); err != nil {
		logFile.Close()
		c.t.Fatalf("starting palisade-node on %s: %v", n.name, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	n.agent = p
}

// stopAgent sends SIGTERM and waits for the agent to exit. An agent that ignores
// SIGTERM for 10 s is killed and reported.
func (c *cluster) stopAgent(n *node) error {
	p := n.agent
	if p == nil {
		return nil
	}
	n.agent = nil
	select {
	case <-p.done:
		return fmt.Errorf("palisade-node on %s had already exited: %v", n.name, p.err)
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("palisade-node on %s ignored SIGTERM for 10s", n.name)
	}
}

func (c *cluster) stopAgents() {
	for _, n := range c.nodes {
		if err := c.stopAgent(n); err != nil {
			c.t.Error(err)
		}
	}
}

// waitReady polls the agent's /readiness (FELIX_HEALTHPORT, default 9099, on the
// node's loopback) until it answers 200.
func (c *cluster) waitReady(n *node, timeout time.Duration) error {
	client := nodeHTTPClient(n.ns)
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for {
		if n.agent != nil {
			select {
			case <-n.agent.done:
				return fmt.Errorf("palisade-node exited: %v", n.agent.err)
			default:
			}
		}
		resp, err := client.Get("http://localhost:9099/readiness")
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %s", timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// nodeHTTPClient dials from inside the node's namespace.
func nodeHTTPClient(ns *netnstest.NS) *http.Client {
	return &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var conn net.Conn
				err := ns.Do(func() error {
					var err error
					d := net.Dialer{Timeout: time.Second}
					conn, err = d.DialContext(ctx, network, addr)
					return err
				})
				return conn, err
			},
		},
	}
}

// relayAPIServer makes the apiserver reachable on the node's loopback at the same
// port it has on the host's loopback, so one kubeconfig (https://127.0.0.1:port,
// which the serving certificate covers) works on every node. The relay is a byte
// copier in this process: traffic stays on the two loopbacks.
func relayAPIServer(t *testing.T, ns *netnstest.NS, port string) {
	t.Helper()
	var ln net.Listener
	if err := ns.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:"+port)
		return err
	}); err != nil {
		t.Fatalf("apiserver relay in %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer in.Close()
				out, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 5*time.Second)
				if err != nil {
					return
				}
				defer out.Close()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(out, in); closeWrite(out); done <- struct{}{} }()
				go func() { _, _ = io.Copy(in, out); closeWrite(in); done <- struct{}{} }()
				<-done
				<-done
			}()
		}
	}()
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}
