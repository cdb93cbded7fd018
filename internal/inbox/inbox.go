// Package inbox is the one path by which webhooks reach workflows. A
// handler authenticates a delivery and stores it (Store, in the same
// statement or transaction as any claim it makes; Twilio's webhooks use a
// statement of their own that inserts the row as InsertWebhookEvent does,
// beside the claim or the carrier's reason) before answering, then
// hands it to the Deliverer (Send), whose senders signal it to its
// workflow at once, several at a time. A stored delivery is leased at
// birth to the instance that stored it; should that instance die, or
// Temporal be down or slow, the sweep (any instance) signals it again
// after the lease, until Temporal takes it. A delivery once stored is never
// lost, and one delivered twice is harmless: workflows deduplicate by
// DedupKey.
package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/metrics"
)

// Event is one authenticated webhook delivery.
type Event struct {
	Source     string // "twilio" or "stripe"
	DedupKey   string // unique per source: a repeat is not stored again
	Type       string // what it is, for people (e.g. "voice", "status", "payment_intent.succeeded")
	Signal     string // the signal it becomes
	WorkflowID string
	Payload    any // the signal's argument, stored as JSON
	// Start, when set, starts the workflow with the signal when it is not
	// running (signal-with-start): an event that may come after its
	// workflow finished (a refund) starts it again.
	Start *Start
}

// Start names the workflow a delivery starts when its target is not running.
type Start struct {
	Workflow string // the workflow type
	Input    any    // its argument, stored as JSON
}

// Lease is how long a delivery just stored is left to the instance that
// stored it (Send) before the sweep takes it.
const Lease = 10 * time.Second

// Store records e inside q's transaction (or as a statement of its own),
// leased for Lease: hand the returned row to Deliverer.Send once it is
// committed. stored is false when the same (source, dedup key) was stored
// before.
func Store(ctx context.Context, q *db.Queries, e Event) (row db.WebhookEvent, stored bool, err error) {
	payload, err := json.Marshal(e.Payload)
	if err != nil {
		return row, false, fmt.Errorf("inbox: encode %s: %w", e.DedupKey, err)
	}
	wid := e.WorkflowID
	p := db.InsertWebhookEventParams{
		Source: e.Source, DedupKey: e.DedupKey, EventType: e.Type, Signal: e.Signal, WorkflowID: &wid, Payload: payload,
		LeaseMs: int32(Lease / time.Millisecond),
	}
	if e.Start != nil {
		input, err := json.Marshal(e.Start.Input)
		if err != nil {
			return row, false, fmt.Errorf("inbox: encode start input %s: %w", e.DedupKey, err)
		}
		p.StartWorkflow, p.StartInput = &e.Start.Workflow, input
	}
	row, err = q.InsertWebhookEvent(ctx, p)
	if errors.Is(err, db.ErrNotFound) {
		return row, false, nil
	}
	if err != nil {
		return row, false, fmt.Errorf("inbox: store %s: %w", e.DedupKey, err)
	}
	return row, true, nil
}

// Signaler is the part of a Temporal client the Deliverer uses.
type Signaler interface {
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg interface{}) error
	SignalWithStartWorkflow(ctx context.Context, workflowID, signalName string, signalArg interface{},
		options client.StartWorkflowOptions, workflow interface{}, workflowArgs ...interface{}) (client.WorkflowRun, error)
}

// Deliverer signals stored deliveries to their workflows.
type Deliverer struct {
	// TaskQueue is where a workflow started by a delivery runs.
	TaskQueue string
	pool      *pgxpool.Pool
	sig       Signaler
	log       zerolog.Logger
	kick      chan struct{}
	sends     chan queued
	// Senders is how many signals are in flight at once (INBOX_SENDERS; 0:
	// DefaultSenders); set it before Run.
	Senders   int
	slots     chan struct{}
	slotsOnce sync.Once
	batch     int32
	lease     time.Duration
	// Metrics counts delivery attempts by result (nil: not counted).
	Metrics *metrics.Metrics
}

// queued is a delivery handed to the senders, with the span of the
// request that stored it: its signal continues that trace.
type queued struct {
	e    db.WebhookEvent
	link trace.SpanContext
}

// DefaultSenders bounds the signals in flight from one deliverer. Few on
// purpose: every signal is a write on the Temporal server and a workflow
// task behind it, and a person's request (an authorization, a payment)
// waits behind whatever the server has queued. Four keep a burst of
// hundreds of final callbacks from standing in front of it, and still
// deliver far more than the steady rate of callbacks (docs/OPERATIONS.md,
// Speed settings, has the figures).
const DefaultSenders = 4

func (d *Deliverer) senders() int {
	if d.Senders > 0 {
		return d.Senders
	}
	return DefaultSenders
}

// inFlight is the one bound the senders and the sweep share: a slot per
// signal in flight, made with the first.
func (d *Deliverer) inFlight() chan struct{} {
	d.slotsOnce.Do(func() { d.slots = make(chan struct{}, d.senders()) })
	return d.slots
}

// NewDeliverer returns a deliverer; Run it, Send it each delivery once
// stored, and Kick it for a sweep.
func NewDeliverer(pool *pgxpool.Pool, sig Signaler, log zerolog.Logger) *Deliverer {
	return &Deliverer{pool: pool, sig: sig, log: log.With().Str("component", "inbox").Logger(),
		kick: make(chan struct{}, 1), sends: make(chan queued, 4096), batch: 50, lease: 30 * time.Second}
}

// Kick asks for a sweep now; it never blocks.
func (d *Deliverer) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Send hands a delivery just stored (and committed) to the senders; it
// never blocks. A delivery that finds them all busy and the queue full is
// left to the sweep, after its lease. The signal is traced as a child of
// ctx's span (the request that stored it); ctx is not waited on.
func (d *Deliverer) Send(ctx context.Context, e db.WebhookEvent) {
	select {
	case d.sends <- queued{e: e, link: trace.SpanContextFromContext(ctx)}:
	default:
		d.log.Warn().Int64("event_id", e.ID).Str("dedup_key", e.DedupKey).Msg("send queue full: the sweep delivers it after its lease")
	}
}

// Run runs the senders, and sweeps on every kick and at least every sweep
// interval, until ctx ends.
func (d *Deliverer) Run(ctx context.Context, sweep time.Duration) {
	q := db.New(d.pool)
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := d.inFlight()
	for range d.senders() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case s := <-d.sends:
					slots <- struct{}{}
					d.deliver(trace.ContextWithSpanContext(ctx, s.link), q, s.e)
					<-slots
				}
			}
		}()
	}
	t := time.NewTicker(sweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		case <-t.C:
		}
		for ctx.Err() == nil {
			n, err := d.DeliverDue(ctx)
			if err != nil {
				d.log.Warn().Err(err).Msg("delivery pass failed")
				break
			}
			if n < int(d.batch) {
				break
			}
		}
	}
}

// DeliverDue makes one pass over the deliveries that are due, several at a
// time, and returns how many it leased (0 when Temporal is not answering).
func (d *Deliverer) DeliverDue(ctx context.Context) (int, error) {
	q := db.New(d.pool)
	events, err := q.LeaseDueWebhookEvents(ctx, db.LeaseDueWebhookEventsParams{LeaseMs: int32(d.lease / time.Millisecond), Batch: d.batch})
	if err != nil {
		return 0, fmt.Errorf("inbox: lease: %w", err)
	}
	var down atomic.Bool
	var wg sync.WaitGroup
	sem := d.inFlight() // shared with the senders: Senders signals at most, in all
	for _, e := range events {
		if down.Load() {
			// Temporal is unreachable or hanging: the rest stay leased and
			// are tried again after the lease, not one by one now.
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if !down.Load() && !d.deliver(ctx, q, e) {
				down.Store(true)
			}
		}()
	}
	wg.Wait()
	if down.Load() {
		return 0, nil // no further pass until the next sweep
	}
	return len(events), nil
}

// deliver signals one delivery and records the outcome; false means
// Temporal itself is not answering.
func (d *Deliverer) deliver(ctx context.Context, q *db.Queries, e db.WebhookEvent) bool {
	wid := ""
	if e.WorkflowID != nil {
		wid = *e.WorkflowID
	}
	log := d.log.With().Int64("event_id", e.ID).Str("dedup_key", e.DedupKey).Str("workflow_id", wid).Str("signal", e.Signal).Logger()
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	var err error
	if e.StartWorkflow != nil {
		_, err = d.sig.SignalWithStartWorkflow(sctx, wid, e.Signal, json.RawMessage(e.Payload), client.StartWorkflowOptions{
			ID: wid, TaskQueue: d.TaskQueue,
			// Only a finished workflow is started again; a running one is signalled.
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		}, *e.StartWorkflow, json.RawMessage(e.StartInput))
	} else {
		err = d.sig.SignalWorkflow(sctx, wid, "", e.Signal, json.RawMessage(e.Payload))
	}
	cancel()
	var notFound *serviceerror.NotFound
	switch {
	case err == nil:
		err = q.MarkWebhookEventDelivered(ctx, db.MarkWebhookEventDeliveredParams{ID: e.ID})
		d.Metrics.InboxDelivery("delivered")
		log.Debug().Int32("attempt", e.Attempts+1).Msg("delivered")
	case errors.As(err, &notFound):
		// The workflow has finished (a late duplicate) or never existed.
		note := "workflow not running: " + err.Error()
		err = q.MarkWebhookEventDelivered(ctx, db.MarkWebhookEventDeliveredParams{ID: e.ID, Note: &note})
		d.Metrics.InboxDelivery("dropped")
		log.Warn().Msg("delivery dropped: its workflow is not running (a late duplicate, or a call that ended early)")
	default:
		retryIn := min(time.Second<<min(e.Attempts, 6), time.Minute)
		d.Metrics.InboxDelivery("failed")
		log.Warn().Err(err).Int32("attempt", e.Attempts+1).Dur("retry_in", retryIn).Msg("delivery failed; will retry")
		var unavailable *serviceerror.Unavailable
		down := errors.As(err, &unavailable) || errors.Is(err, context.DeadlineExceeded) || sctxTimedOut(err)
		if merr := q.MarkWebhookEventFailed(ctx, db.MarkWebhookEventFailedParams{ID: e.ID, LastError: strPtr(err.Error()), RetryInMs: int32(retryIn / time.Millisecond)}); merr != nil {
			log.Warn().Err(merr).Msg("record delivery outcome")
		}
		return !down
	}
	if err != nil {
		log.Warn().Err(err).Msg("record delivery outcome")
	}
	return true
}

// sctxTimedOut reports a gRPC deadline error from the signal's own timeout.
func sctxTimedOut(err error) bool {
	var deadline *serviceerror.DeadlineExceeded
	return errors.As(err, &deadline)
}

func strPtr(s string) *string { return &s }
