package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// LeaseName is the Lease the replicas compete for (the manifest's Role allows
// get/update on this name only).
const LeaseName = "palisade-controllers"

// LeaderOptions configure leader election. Zero durations take client-go's usual
// values (15 s lease, 10 s renew deadline, 2 s retry).
type LeaderOptions struct {
	Namespace string
	Identity  string
	LeaseName string

	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// ErrLostLeadership is returned when the lease was lost while ctx was still live:
// the caller should exit so that nothing runs twice, and be restarted.
var ErrLostLeadership = errors.New("lost the leader lease")

// RunLeaderElected blocks until ctx ends, running run while this process holds the
// Lease. run's context is cancelled when the lease is lost. When ctx ends the lease is
// released at once, so a successor does not wait for it to expire.
func RunLeaderElected(ctx context.Context, client kubernetes.Interface, opts LeaderOptions, log *zap.Logger, run func(context.Context)) error {
	if opts.Namespace == "" || opts.Identity == "" {
		return fmt.Errorf("leader election: namespace (%q) and identity (%q) are required", opts.Namespace, opts.Identity)
	}
	if opts.LeaseName == "" {
		opts.LeaseName = LeaseName
	}
	if opts.LeaseDuration == 0 {
		opts.LeaseDuration, opts.RenewDeadline, opts.RetryPeriod = 15*time.Second, 10*time.Second, 2*time.Second
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, opts.Namespace, opts.LeaseName,
		client.CoreV1(), client.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: opts.Identity})
	if err != nil {
		return fmt.Errorf("leader election lock: %w", err)
	}
	lost := false
	running := make(chan struct{})
	var done chan struct{} // closed when run returns; nil when it never started
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		Name:            opts.LeaseName,
		LeaseDuration:   opts.LeaseDuration,
		RenewDeadline:   opts.RenewDeadline,
		RetryPeriod:     opts.RetryPeriod,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				log.Info("leading", zap.String("lease", opts.Namespace+"/"+opts.LeaseName), zap.String("identity", opts.Identity))
				done = make(chan struct{})
				close(running)
				defer close(done)
				run(ctx)
			},
			OnStoppedLeading: func() {
				if ctx.Err() == nil {
					lost = true
				}
				log.Info("stopped leading", zap.String("identity", opts.Identity))
			},
			OnNewLeader: func(id string) {
				if id != opts.Identity {
					log.Info("another replica leads", zap.String("leader", id))
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	elector.Run(ctx)
	select { // run's context is cancelled now; wait for it to return
	case <-running:
		<-done
	default:
	}
	if lost {
		return ErrLostLeadership
	}
	return ctx.Err()
}
