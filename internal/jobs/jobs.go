// Package jobs runs a role's background loops as one group: they start
// together, the first to end (or the caller's context) stops them all, and
// the group returns only when every one has returned.
package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"
)

// Job is one named loop of a role. Run works until ctx ends; it returns
// early only when it cannot go on (an error), which stops the role.
type Job struct {
	Name string
	Run  func(ctx context.Context) error
}

// Every is a job that runs pass at once and then once every interval, each
// pass bounded by the interval; a failed pass is logged and the next one
// tried. The first pass is at start, not an interval later, so an instance
// restarted more often than its interval still does its work.
func Every(name string, interval time.Duration, log zerolog.Logger, pass func(ctx context.Context) error) Job {
	return Job{Name: name, Run: func(ctx context.Context) error {
		t := time.NewTicker(interval)
		defer t.Stop()
		for first := true; ; first = false {
			if !first {
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
				}
			}
			pctx, cancel := context.WithTimeout(ctx, interval)
			err := pass(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				log.Warn().Err(err).Str("job", name).Msg("background pass failed; next one in its interval")
			}
		}
	}}
}

// Run runs front and loops together until ctx ends or any job returns.
// Then the front jobs (a role's HTTP server, its Temporal worker) stop
// first, finishing what they have in hand, and only once they all have
// returned do the loops they may use (live updates, the webhook inbox, the
// rate deck's watcher) stop. Run waits for every job and returns the first
// error, named by its job.
func Run(ctx context.Context, front, loops []Job) error {
	stop, stopAll := context.WithCancel(ctx)
	defer stopAll()
	loopCtx, stopLoops := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLoops()
	var g, fg errgroup.Group
	start := func(g *errgroup.Group, ctx context.Context, j Job) {
		g.Go(func() error {
			defer stopAll()
			if err := j.Run(ctx); err != nil {
				return fmt.Errorf("%s: %w", j.Name, err)
			}
			return nil
		})
	}
	for _, j := range front {
		start(&fg, stop, j)
	}
	for _, j := range loops {
		start(&g, loopCtx, j)
	}
	g.Go(func() error {
		<-stop.Done()
		err := fg.Wait()
		stopLoops()
		return err
	})
	return g.Wait()
}
