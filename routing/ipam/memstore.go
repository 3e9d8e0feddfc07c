package ipam

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	v3 "github.com/palisadenet/palisade/api/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// storedObject is what the generic stores need of an api/v3 IPAM type.
type storedObject[T any] interface {
	*T
	metav1.Object
	DeepCopy() *T
}

// MemoryStore keeps everything in memory: for tests, benchmarks and tools that
// compute on a snapshot. Safe for concurrent use.
type MemoryStore struct {
	mu           sync.Mutex
	pools        []v3.IPPool
	reservations []v3.IPReservation
	rv           uint64
	blocks       *memObjects[v3.IPAMBlock, *v3.IPAMBlock]
	affinities   *memObjects[v3.BlockAffinity, *v3.BlockAffinity]
	handles      *memObjects[v3.IPAMHandle, *v3.IPAMHandle]
}

// NewMemoryStore returns a store holding pools and reservations and no IPAM state.
func NewMemoryStore(pools []v3.IPPool, reservations []v3.IPReservation) *MemoryStore {
	s := &MemoryStore{pools: slices.Clone(pools), reservations: slices.Clone(reservations)}
	s.blocks = &memObjects[v3.IPAMBlock, *v3.IPAMBlock]{s: s, kind: "block", items: map[string]*v3.IPAMBlock{}}
	s.affinities = &memObjects[v3.BlockAffinity, *v3.BlockAffinity]{s: s, kind: "affinity", items: map[string]*v3.BlockAffinity{}}
	s.handles = &memObjects[v3.IPAMHandle, *v3.IPAMHandle]{s: s, kind: "handle", items: map[string]*v3.IPAMHandle{}}
	return s
}

// Pools implements Store.
func (s *MemoryStore) Pools(context.Context) ([]v3.IPPool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]v3.IPPool, len(s.pools))
	for i := range s.pools {
		out[i] = *s.pools[i].DeepCopy()
	}
	return out, nil
}

// SetPools replaces the pools (tests: disable a pool, change a selector).
func (s *MemoryStore) SetPools(pools []v3.IPPool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pools = slices.Clone(pools)
}

// SetReservations replaces the reservations.
func (s *MemoryStore) SetReservations(res []v3.IPReservation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reservations = slices.Clone(res)
}

// Reservations implements Store.
func (s *MemoryStore) Reservations(context.Context) ([]v3.IPReservation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]v3.IPReservation, len(s.reservations))
	for i := range s.reservations {
		out[i] = *s.reservations[i].DeepCopy()
	}
	return out, nil
}

// CreatePool implements Store.
func (s *MemoryStore) CreatePool(_ context.Context, pool *v3.IPPool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pools {
		if p.Name == pool.Name {
			return fmt.Errorf("IP pool %s: %w", pool.Name, ErrConflict)
		}
	}
	s.pools = append(s.pools, *pool.DeepCopy())
	return nil
}

// Blocks implements Store.
func (s *MemoryStore) Blocks() Objects[*v3.IPAMBlock] { return s.blocks }

// Affinities implements Store.
func (s *MemoryStore) Affinities() Objects[*v3.BlockAffinity] { return s.affinities }

// Handles implements Store.
func (s *MemoryStore) Handles() Objects[*v3.IPAMHandle] { return s.handles }

type memObjects[T any, P storedObject[T]] struct {
	s     *MemoryStore
	kind  string
	items map[string]P
}

func (m *memObjects[T, P]) List(context.Context) ([]P, error) {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	out := make([]P, 0, len(m.items))
	for _, o := range m.items {
		out = append(out, P(o.DeepCopy()))
	}
	slices.SortFunc(out, func(a, b P) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out, nil
}

func (m *memObjects[T, P]) Get(_ context.Context, name string) (P, error) {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	o, ok := m.items[name]
	if !ok {
		return nil, fmt.Errorf("%s %s: %w", m.kind, name, ErrNotFound)
	}
	return P(o.DeepCopy()), nil
}

func (m *memObjects[T, P]) Create(_ context.Context, obj P) (P, error) {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if _, ok := m.items[obj.GetName()]; ok {
		return nil, fmt.Errorf("creating %s %s: %w", m.kind, obj.GetName(), ErrConflict)
	}
	return m.put(obj), nil
}

func (m *memObjects[T, P]) Update(_ context.Context, obj P) (P, error) {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	cur, ok := m.items[obj.GetName()]
	if !ok {
		return nil, fmt.Errorf("updating %s %s: %w", m.kind, obj.GetName(), ErrNotFound)
	}
	if cur.GetResourceVersion() != obj.GetResourceVersion() {
		return nil, fmt.Errorf("updating %s %s: %w", m.kind, obj.GetName(), ErrConflict)
	}
	return m.put(obj), nil
}

func (m *memObjects[T, P]) put(obj P) P {
	m.s.rv++
	stored := P(obj.DeepCopy())
	stored.SetResourceVersion(strconv.FormatUint(m.s.rv, 10))
	m.items[obj.GetName()] = stored
	obj.SetResourceVersion(stored.GetResourceVersion())
	return P(stored.DeepCopy())
}

func (m *memObjects[T, P]) Delete(_ context.Context, name, rv string) error {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	cur, ok := m.items[name]
	if !ok {
		return fmt.Errorf("deleting %s %s: %w", m.kind, name, ErrNotFound)
	}
	if rv != "" && cur.GetResourceVersion() != rv {
		return fmt.Errorf("deleting %s %s: %w", m.kind, name, ErrConflict)
	}
	delete(m.items, name)
	return nil
}
