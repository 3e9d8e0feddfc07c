package truthtable

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/palisadenet/palisade/ctl/offline"
	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/resource"
)

// Short names for the checks' protocols.
const (
	TCP = policy.ProtocolTCP
	UDP = policy.ProtocolUDP
)

// worldFile holds the namespaces and pods every scenario starts from.
const worldFile = "testdata/world.yaml"

// pods is the model's pod order: rows and columns of every grid.
var pods = []string{"x/a", "x/b", "x/c", "y/a", "y/b", "y/c", "z/a", "z/b", "z/c"}

// scenario is a set of policies and the matrices they must produce.
type scenario struct {
	name   string
	doc    string
	yaml   string // policies added to the world; may be empty
	checks []check
}

// check is one protocol and port with its expected grid: one line per source in pod
// order, "<src>  <9 marks>" ('.' allowed, 'X' denied; spaces between marks ignored).
type check struct {
	proto policy.Protocol
	port  uint16
	want  string
}

var (
	baseOnce sync.Once
	baseObjs []resource.Object
	baseErr  error
)

// baseWorld loads testdata/world.yaml once, through the same loader as the CLI.
func baseWorld(t *testing.T) []resource.Object {
	t.Helper()
	baseOnce.Do(func() { baseObjs, baseErr = resource.LoadPaths([]string{worldFile}, nil) })
	if baseErr != nil {
		t.Fatalf("loading %s: %v", worldFile, baseErr)
	}
	return slices.Clone(baseObjs)
}

func runScenarios(t *testing.T, scenarios []scenario) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			objs := baseWorld(t)
			if sc.yaml != "" {
				extra, err := resource.Decode(sc.name+".yaml", []byte(sc.yaml))
				if err != nil {
					t.Fatalf("decoding the scenario's policies: %v", err)
				}
				objs = append(objs, extra...)
			}
			w, warnings, err := offline.BuildWorld(objs)
			if err != nil || len(warnings) > 0 {
				t.Fatalf("building the world: %v %v", err, warnings)
			}
			if len(sc.checks) == 0 {
				t.Fatal("scenario has no check")
			}
			for _, c := range sc.checks {
				want, err := parseGrid(c.want)
				if err != nil {
					t.Fatalf("%s/%d: bad expected grid: %v", c.proto, c.port, err)
				}
				m, err := offline.ComputeMatrix(w, c.proto, c.port)
				if err != nil {
					t.Fatalf("%s/%d: %v", c.proto, c.port, err)
				}
				if diff := compareGrid(want, m); diff != "" {
					t.Errorf("%s (%s/%d): %s\n%s", sc.name, c.proto, c.port, sc.doc, diff)
				}
			}
		})
	}
}

// grid is allowed[src][dst] in pod order.
type grid [9][9]bool

func parseGrid(s string) (grid, error) {
	var g grid
	var rows []string
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimSpace(line) != "" {
			rows = append(rows, line)
		}
	}
	if len(rows) != len(pods) {
		return g, fmt.Errorf("%d rows, want %d", len(rows), len(pods))
	}
	for i, row := range rows {
		fields := strings.Fields(row)
		if len(fields) == 0 || fields[0] != pods[i] {
			return g, fmt.Errorf("row %d is %q, want it to start with %s", i+1, row, pods[i])
		}
		marks := strings.Join(fields[1:], "")
		if len(marks) != len(pods) {
			return g, fmt.Errorf("row %s has %d marks, want %d", pods[i], len(marks), len(pods))
		}
		for j, m := range marks {
			switch m {
			case '.':
				g[i][j] = true
			case 'X':
			default:
				return g, fmt.Errorf("row %s: mark %q is not '.' or 'X'", pods[i], m)
			}
		}
	}
	return g, nil
}

// compareGrid returns "" when m equals want, else both grids and the wrong cells.
func compareGrid(want grid, m *offline.Matrix) string {
	if !slices.Equal(m.Pods, pods) {
		return fmt.Sprintf("matrix pods %v, want %v", m.Pods, pods)
	}
	var got grid
	var wrong []string
	for i, src := range pods {
		for j, dst := range pods {
			got[i][j] = m.Allowed[src][dst]
			if got[i][j] != want[i][j] {
				wrong = append(wrong, fmt.Sprintf("%s -> %s: want %s, got %s", src, dst, word(want[i][j]), word(got[i][j])))
			}
		}
	}
	if len(wrong) == 0 {
		return ""
	}
	if len(wrong) > 12 {
		wrong = append(wrong[:12], fmt.Sprintf("... and %d more", len(wrong)-12))
	}
	return "want:\n" + formatGrid(want) + "got:\n" + formatGrid(got) + strings.Join(wrong, "\n")
}

func word(allowed bool) string {
	if allowed {
		return "allowed"
	}
	return "denied"
}

func formatGrid(g grid) string {
	var b strings.Builder
	for i, src := range pods {
		b.WriteString("  " + src + "  ")
		for j := range pods {
			if j > 0 && j%3 == 0 {
				b.WriteByte(' ')
			}
			if g[i][j] {
				b.WriteByte('.')
			} else {
				b.WriteByte('X')
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func TestSuiteSize(t *testing.T) {
	all := slices.Concat(kubernetesIngressScenarios, kubernetesPortScenarios, kubernetesEgressScenarios,
		calicoRuleScenarios, calicoGlobalScenarios, calicoTierScenarios)
	if len(all) < 40 {
		t.Errorf("%d scenarios, want at least 40", len(all))
	}
	names := map[string]bool{}
	for _, sc := range all {
		if names[sc.name] {
			t.Errorf("duplicate scenario name %q", sc.name)
		}
		names[sc.name] = true
	}
}
