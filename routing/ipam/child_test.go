package ipam

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

// Child processes: the test binary re-executes itself with PALISADE_IPAM_CHILD set and
// allocates from a shared store, printing "<addr> <handle>" per assignment, so tests can
// run allocators in separate processes (and kill them).
const (
	childEnv     = "PALISADE_IPAM_CHILD" // "file" or "kube"
	childDirEnv  = "PALISADE_IPAM_DIR"   // file store directory, or kubeconfig path
	childNodeEnv = "PALISADE_IPAM_NODE"
	childNumEnv  = "PALISADE_IPAM_COUNT" // 0 = until killed
	childTagEnv  = "PALISADE_IPAM_TAG"   // handle and pod name prefix
)

func TestMain(m *testing.M) {
	if kind := os.Getenv(childEnv); kind != "" {
		if err := runChild(kind); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runChild(kind string) error {
	var store Store
	switch kind {
	case "file":
		s, err := NewFileStore(os.Getenv(childDirEnv), nil)
		if err != nil {
			return err
		}
		store = s
	case "kube":
		cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv(childDirEnv))
		if err != nil {
			return err
		}
		if store, err = NewKubernetesStore(cfg, nil); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown child kind %q", kind)
	}
	count, _ := strconv.Atoi(os.Getenv(childNumEnv))
	node, tag := os.Getenv(childNodeEnv), os.Getenv(childTagEnv)
	a := New(store, nil)
	out := bufio.NewWriter(os.Stdout)
	for i := 0; count == 0 || i < count; i++ {
		h := fmt.Sprintf("%s-%d", tag, i)
		got, err := a.Assign(context.Background(), AssignArgs{Handle: h, Node: node, Num4: 1,
			Attrs: map[string]string{AttrNamespace: "child", AttrPod: h}})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s %s\n", got[0].Addr.Addr(), h)
		if err := out.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// childProcess is a running allocator child.
type childProcess struct {
	cmd    *exec.Cmd
	stdout io.ReadCloser
	stderr strings.Builder
}

func startChild(t *testing.T, kind, dir, node, tag string, count int) *childProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+kind, childDirEnv+"="+dir, childNodeEnv+"="+node,
		childNumEnv+"="+strconv.Itoa(count), childTagEnv+"="+tag)
	c := &childProcess{cmd: cmd}
	cmd.Stderr = &c.stderr
	var err error
	if c.stdout, err = cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return c
}

// readAssignments reads "<addr> <handle>" lines until EOF, or until stop returns true
// after a line.
func (c *childProcess) readAssignments(t *testing.T, stop func(n int) bool) map[netip.Addr]string {
	t.Helper()
	got := map[netip.Addr]string{}
	sc := bufio.NewScanner(c.stdout)
	for sc.Scan() {
		addrText, h, ok := strings.Cut(sc.Text(), " ")
		addr, err := netip.ParseAddr(addrText)
		if !ok || err != nil {
			t.Fatalf("child printed %q", sc.Text())
		}
		if prev, dup := got[addr]; dup {
			t.Fatalf("child got %s twice (%s, %s)", addr, prev, h)
		}
		got[addr] = h
		if stop != nil && stop(len(got)) {
			break
		}
	}
	return got
}
