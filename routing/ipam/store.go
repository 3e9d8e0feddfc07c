package ipam

import (
	"context"
	"errors"

	v3 "github.com/palisadenet/palisade/api/v3"
)

// Store errors. Implementations wrap them with context; test with errors.Is.
var (
	// ErrNotFound: the object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a compare-and-swap lost (the resourceVersion moved on, or a create
	// found the object already there). The allocator re-reads and retries.
	ErrConflict = errors.New("conflict")
)

// Objects is compare-and-swap storage for one kind of IPAM object, addressed by
// metadata.name.
//
// Create fails with ErrConflict when the name exists. Update and Delete succeed only
// when the stored resourceVersion equals the one given (the object's for Update), else
// ErrConflict; a missing object is ErrNotFound (an Update of an object deleted meanwhile
// may also be ErrConflict: the caller re-reads either way). Returned objects are the caller's to
// modify: implementations never share memory with their callers.
type Objects[T any] interface {
	List(ctx context.Context) ([]T, error)
	Get(ctx context.Context, name string) (T, error)
	Create(ctx context.Context, obj T) (T, error)
	Update(ctx context.Context, obj T) (T, error)
	Delete(ctx context.Context, name, resourceVersion string) error
}

// Store is where IPAM state lives. Pools and reservations are read-mostly configuration;
// blocks, affinities and handles are written by the allocator with compare-and-swap.
type Store interface {
	Pools(ctx context.Context) ([]v3.IPPool, error)
	Reservations(ctx context.Context) ([]v3.IPReservation, error)
	// CreatePool adds a pool (EnsureDefaultPools); ErrConflict when the name exists.
	CreatePool(ctx context.Context, pool *v3.IPPool) error

	Blocks() Objects[*v3.IPAMBlock]
	Affinities() Objects[*v3.BlockAffinity]
	Handles() Objects[*v3.IPAMHandle]
}
