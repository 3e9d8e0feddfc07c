package cni

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"

	"github.com/palisadenet/palisade/dataplane/workload"
)

// fakeDatastore hands out addresses from a list and remembers who holds what.
type fakeDatastore struct {
	free      []netip.Prefix
	held      map[string][]netip.Prefix // handle → addresses
	nodeOf    map[string]string         // handle → node
	ann       map[string]string
	requests  []AssignRequest
	recorded  map[string]string
	recordErr error
}

func newFakeDatastore(addrs ...string) *fakeDatastore {
	d := &fakeDatastore{held: map[string][]netip.Prefix{}, nodeOf: map[string]string{}}
	for _, a := range addrs {
		d.free = append(d.free, netip.MustParsePrefix(a))
	}
	return d
}

func (d *fakeDatastore) Assign(_ context.Context, req AssignRequest) ([]netip.Prefix, error) {
	d.requests = append(d.requests, req)
	if len(d.free) == 0 {
		return nil, errors.New("pool exhausted")
	}
	got := d.free[:1]
	d.free = d.free[1:]
	d.held[req.Handle] = got
	d.nodeOf[req.Handle] = req.Node
	return got, nil
}

func (d *fakeDatastore) ReleaseByHandle(_ context.Context, h string) error {
	d.free = append(d.free, d.held[h]...)
	delete(d.held, h)
	delete(d.nodeOf, h)
	return nil
}

func (d *fakeDatastore) HandlesOnNode(_ context.Context, node, prefix string) ([]string, error) {
	var out []string
	for h, n := range d.nodeOf {
		if n == node && strings.HasPrefix(h, prefix) {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (d *fakeDatastore) PodAnnotations(context.Context, PodRef) (map[string]string, bool, error) {
	return d.ann, d.ann != nil, nil
}
func (d *fakeDatastore) NodeLabels(context.Context, string) (map[string]string, error) {
	return map[string]string{"zone": "a"}, nil
}
func (d *fakeDatastore) RecordPodIPs(_ context.Context, pod PodRef, cid string, addrs []netip.Prefix) error {
	if d.recordErr != nil {
		return d.recordErr
	}
	d.recorded = PodIPAnnotations(cid, addrs)
	return nil
}
func (d *fakeDatastore) ForgetPodIPs(_ context.Context, _ PodRef, cid string) error {
	if d.recorded[AnnotationContainerID] == cid {
		d.recorded = nil
	}
	return nil
}
func (d *fakeDatastore) Ready(context.Context) error { return nil }

// fakePlumber records what it was asked to create and remove.
type fakePlumber struct {
	up       map[string]workload.Spec // host iface → spec
	setupErr error
	removed  []string
}

func (f *fakePlumber) PodIfaceExists(netns, _ string) (bool, error) {
	if !strings.HasPrefix(netns, "/proc/") {
		return false, errors.New("not a network namespace")
	}
	for _, s := range f.up {
		if s.NetNSPath == netns {
			return true, nil
		}
	}
	return false, nil
}

func (f *fakePlumber) Setup(s workload.Spec) (workload.Result, error) {
	if f.setupErr != nil {
		return workload.Result{}, f.setupErr
	}
	f.up[s.HostIface] = s
	return workload.Result{Host: workload.Interface{Name: s.HostIface, MAC: workload.HostMAC},
		Pod: workload.Interface{Name: s.PodIface, MAC: workload.HostMAC}}, nil
}
func (f *fakePlumber) Teardown(_, _, host string) error {
	f.removed = append(f.removed, host)
	delete(f.up, host)
	return nil
}
func (f *fakePlumber) Verify(s workload.Spec) error {
	got, ok := f.up[s.HostIface]
	if !ok {
		return errors.New("host interface missing")
	}
	if !slices.Equal(got.Addrs, s.Addrs) {
		return errors.New("addresses differ")
	}
	return nil
}

const testConf = `{"cniVersion":"1.0.0","name":"k8s-pod-network","type":"palisade","datastore_type":"file",
 "datastore_dir":"/nonexistent","nodename":"node-1","ipam":{"type":"palisade-ipam"}}`

func newTestPlugin(ds *fakeDatastore) (*Plugin, *fakePlumber, *bytes.Buffer) {
	pl := &fakePlumber{up: map[string]workload.Spec{}}
	var out bytes.Buffer
	return &Plugin{
		Env: testEnv, Plumber: pl, Stdout: &out,
		OpenDatastore: func(context.Context, *NetConf, *zap.Logger) (Datastore, error) { return ds, nil },
	}, pl, &out
}

func cmdArgs(conf, cid string) *skel.CmdArgs {
	return &skel.CmdArgs{ContainerID: cid, Netns: "/proc/self/ns/net", IfName: "eth0",
		Args: "K8S_POD_NAMESPACE=default;K8S_POD_NAME=nginx;K8S_POD_INFRA_CONTAINER_ID=" + cid, StdinData: []byte(conf)}
}

func cniCode(t *testing.T, err error) uint {
	t.Helper()
	var cerr *types.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("error %v is not a *types.Error", err)
	}
	return cerr.Code
}

func TestAddDelLifecycle(t *testing.T) {
	ds := newFakeDatastore("10.0.0.1/32")
	ds.ann = map[string]string{AnnotationIPv4Pools: `["pool-a"]`}
	p, pl, out := newTestPlugin(ds)
	if err := p.Add(cmdArgs(testConf, "c1")); err != nil {
		t.Fatalf("ADD: %v", err)
	}
	var res struct {
		IPs []struct{ Address string } `json:"ips"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || len(res.IPs) != 1 || res.IPs[0].Address != "10.0.0.1/32" {
		t.Fatalf("ADD result %s (%v), want one IP 10.0.0.1/32", out, err)
	}
	req := ds.requests[0]
	want := AssignRequest{Handle: "k8s-pod-network.c1", Node: "node-1", Num4: 1, Pools4: []string{"pool-a"},
		Attrs: map[string]string{"namespace": "default", "pod": "nginx", "node": "node-1"}, NodeLabels: map[string]string{"zone": "a"}}
	if diff := cmp.Diff(want, req); diff != "" {
		t.Errorf("assign request (-want +got):\n%s", diff)
	}
	spec := pl.up["calic440f455693"]
	if spec.PodIface != "eth0" || spec.MTU != 1450 || spec.NetNSPath != "/proc/self/ns/net" {
		t.Errorf("plumbed %+v, want eth0 on calic440f455693 with MTU 1450", spec)
	}
	if ds.recorded[AnnotationPodIP] != "10.0.0.1/32" {
		t.Errorf("recorded annotations %v", ds.recorded)
	}
	// A repeated ADD is refused before IPAM and leaves the first attachment alone.
	if err := p.Add(cmdArgs(testConf, "c1")); err == nil || cniCode(t, err) != ErrDataplane || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second ADD = %v, want code %d already exists", err, ErrDataplane)
	}
	if len(ds.requests) != 1 || len(ds.held["k8s-pod-network.c1"]) != 1 || len(pl.up) != 1 {
		t.Errorf("second ADD changed state: %d requests, held %v, up %v", len(ds.requests), ds.held, pl.up)
	}

	prev := strings.TrimSuffix(testConf, "}") + `,"prevResult":` + out.String() + `}`
	if err := p.Check(cmdArgs(prev, "c1")); err != nil {
		t.Errorf("CHECK after ADD: %v", err)
	}
	for i := range 2 {
		if err := p.Del(cmdArgs(testConf, "c1")); err != nil {
			t.Fatalf("DEL #%d: %v", i+1, err)
		}
	}
	if len(ds.held) != 0 || len(ds.free) != 1 || len(pl.up) != 0 || ds.recorded != nil {
		t.Errorf("after DEL: held %v free %v up %v recorded %v; want everything released", ds.held, ds.free, pl.up, ds.recorded)
	}
	if err := p.Check(cmdArgs(prev, "c1")); err == nil || cniCode(t, err) != ErrCheckFailed {
		t.Errorf("CHECK after DEL = %v, want code %d", err, ErrCheckFailed)
	}
}

func TestAddFailuresLeakNothing(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setup     func(*fakeDatastore, *fakePlumber, *skel.CmdArgs)
		code      uint
		msg       string
		askedIPAM bool // did the plugin get as far as IPAM?
	}{
		{"exhausted", func(ds *fakeDatastore, _ *fakePlumber, _ *skel.CmdArgs) { ds.free = nil }, ErrIPAM, "pool exhausted", true},
		{"plumbing", func(_ *fakeDatastore, pl *fakePlumber, _ *skel.CmdArgs) { pl.setupErr = errors.New("veth refused") }, ErrDataplane, "veth refused", true},
		{"record", func(ds *fakeDatastore, _ *fakePlumber, _ *skel.CmdArgs) { ds.recordErr = errors.New("apiserver down") }, ErrDatastore, "apiserver down", true},
		{"bad annotation", func(ds *fakeDatastore, _ *fakePlumber, _ *skel.CmdArgs) {
			ds.ann = map[string]string{AnnotationIPAddrs: "10.0.0.9"}
		}, ErrPodAnnotation, "JSON list", false},
		{"bad netns", func(_ *fakeDatastore, _ *fakePlumber, a *skel.CmdArgs) { a.Netns = "/nonexistent/netns" }, types.ErrInvalidNetNS, `CNI_NETNS "/nonexistent/netns"`, false},
		{"no pod args", func(_ *fakeDatastore, _ *fakePlumber, a *skel.CmdArgs) { a.Args = "" }, types.ErrInvalidEnvironmentVariables, "K8S_POD_NAME", false},
		{"bad config", func(_ *fakeDatastore, _ *fakePlumber, a *skel.CmdArgs) { a.StdinData = []byte(`{"name":`) }, types.ErrDecodingFailure, "parsing network configuration", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := newFakeDatastore("10.0.0.1/32")
			p, pl, out := newTestPlugin(ds)
			args := cmdArgs(testConf, "c1")
			tc.setup(ds, pl, args)
			free := len(ds.free)
			err := p.Add(args)
			if err == nil {
				t.Fatal("ADD succeeded")
			}
			var cerr *types.Error
			if !errors.As(err, &cerr) || cerr.Code != tc.code || !strings.Contains(cerr.Msg, tc.msg) {
				t.Fatalf("ADD = %v, want code %d containing %q", err, tc.code, tc.msg)
			}
			if len(ds.held) != 0 || len(ds.free) != free || len(pl.up) != 0 || out.Len() != 0 {
				t.Errorf("after failed ADD: held %v, free %d (was %d), up %v, stdout %q", ds.held, len(ds.free), free, pl.up, out)
			}
			if tc.askedIPAM != (len(ds.requests) > 0) {
				t.Errorf("IPAM was asked %d times", len(ds.requests))
			}
		})
	}
}

func TestDelWithoutPodArgsOrNetns(t *testing.T) {
	ds := newFakeDatastore("10.0.0.1/32")
	p, pl, _ := newTestPlugin(ds)
	if err := p.Add(cmdArgs(testConf, "c1")); err != nil {
		t.Fatal(err)
	}
	args := cmdArgs(testConf, "c1")
	args.Args, args.Netns = "", ""
	if err := p.Del(args); err != nil {
		t.Fatalf("DEL without CNI_ARGS and netns: %v", err)
	}
	if len(ds.held) != 0 {
		t.Errorf("DEL kept the handle: %v", ds.held)
	}
	if !slices.Equal(pl.removed, []string{""}) {
		t.Errorf("Teardown calls %q, want one without a host name", pl.removed)
	}
}

func TestGCReleasesOnlyStaleHandlesOfThisNode(t *testing.T) {
	ds := newFakeDatastore()
	for h, n := range map[string]string{
		"k8s-pod-network.live": "node-1", "k8s-pod-network.stale": "node-1",
		"k8s-pod-network.elsewhere": "node-2", "other-net.x": "node-1",
	} {
		ds.held[h], ds.nodeOf[h] = []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}, n
	}
	p, _, _ := newTestPlugin(ds)
	if err := p.GC(&skel.CmdArgs{StdinData: []byte(testConf)}); err == nil || len(ds.held) != 4 {
		t.Fatalf("GC without cni.dev/valid-attachments = %v, held %d; want a refusal that releases nothing", err, len(ds.held))
	}
	conf := strings.TrimSuffix(testConf, "}") + `,"cniVersion":"1.1.0","cni.dev/valid-attachments":[{"containerID":"live","ifname":"eth0"}]}`
	if err := p.GC(&skel.CmdArgs{StdinData: []byte(conf)}); err != nil {
		t.Fatal(err)
	}
	var left []string
	for h := range ds.held {
		left = append(left, h)
	}
	slices.Sort(left)
	if want := []string{"k8s-pod-network.elsewhere", "k8s-pod-network.live", "other-net.x"}; !slices.Equal(left, want) {
		t.Errorf("after GC: %v, want %v", left, want)
	}
}

func TestStatus(t *testing.T) {
	p, _, _ := newTestPlugin(newFakeDatastore())
	if err := p.Status(&skel.CmdArgs{StdinData: []byte(testConf)}); err != nil {
		t.Errorf("STATUS = %v", err)
	}
	p.OpenDatastore = func(context.Context, *NetConf, *zap.Logger) (Datastore, error) { return nil, errors.New("no dir") }
	if err := p.Status(&skel.CmdArgs{StdinData: []byte(testConf)}); err == nil || cniCode(t, err) != types.ErrPluginNotAvailable {
		t.Errorf("STATUS with a broken datastore = %v, want code 50", err)
	}
}

func TestIPAMPluginMode(t *testing.T) {
	ds := newFakeDatastore("10.0.0.7/32")
	p, pl, out := newTestPlugin(ds)
	// The main plugin's config (bridge, say) with our ipam section.
	conf := `{"cniVersion":"1.0.0","name":"mynet","type":"bridge","bridge":"br0","datastore_type":"file",
	  "datastore_dir":"/nonexistent","nodename":"node-1","ipam":{"type":"palisade-ipam"}}`
	if err := p.IPAMAdd(cmdArgs(conf, "c1")); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Interfaces []any `json:"interfaces"`
		IPs        []struct {
			Address   string `json:"address"`
			Interface *int   `json:"interface"`
		} `json:"ips"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Interfaces) != 0 || len(res.IPs) != 1 || res.IPs[0].Address != "10.0.0.7/32" || res.IPs[0].Interface != nil {
		t.Errorf("IPAM result %s, want one IP and no interfaces", out)
	}
	if len(pl.up) != 0 {
		t.Errorf("IPAM mode plumbed interfaces: %v", pl.up)
	}
	if _, ok := ds.held["mynet.c1"]; !ok {
		t.Errorf("handle mynet.c1 not held: %v", ds.held)
	}
	for range 2 {
		if err := p.IPAMDel(cmdArgs(conf, "c1")); err != nil {
			t.Fatal(err)
		}
	}
	if len(ds.held) != 0 {
		t.Errorf("after IPAM DEL: %v", ds.held)
	}
}
