// Package inbox is the one path by which webhooks reach workflows. A
// handler authenticates a delivery and stores it (Store, in the same
// transaction as any claim it makes) before answering; the Deliverer then
// signals it to its workflow at once and, should Temporal be down or slow,
// again until Temporal takes it. A delivery once stored is never lost, and
// one delivered twice is harmless: workflows deduplicate by DedupKey.
package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/mobayilo/mobayilo/db"
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

// Store records e inside q's transaction. stored is false when the same
// (source, dedup key) was stored before.
func Store(ctx context.Context, q *db.Queries, e Event) (id int64, stored bool, err error) {
	payload, err := json.Marshal(e.Payload)
	if err != nil {
		return 0, false, fmt.Errorf("inbox: encode %s: %w", e.DedupKey, err)
	}
	wid := e.WorkflowID
	p := db.InsertWebhookEventParams{
		Source: e.Source, DedupKey: e.DedupKey, EventType: e.Type, Signal: e.Signal, WorkflowID: &wid, Payload: payload,
	}
	if e.Start != nil {
		input, err := json.Marshal(e.Start.Input)
		if err != nil {
			return 0, false, fmt.Errorf("inbox: encode start input %s: %w", e.DedupKey, err)
		}
		p.StartWorkflow, p.StartInput = &e.Start.Workflow, input
	}
	id, err = q.InsertWebhookEvent(ctx, p)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("inbox: store %s: %w", e.DedupKey, err)
	}
	return id, true, nil
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
	batch     int32
	lease     time.Duration
}

// NewDeliverer returns a deliverer; Run it, and Kick it after storing.
func NewDeliverer(pool *pgxpool.Pool, sig Signaler, log zerolog.Logger) *Deliverer {
	return &Deliverer{pool: pool, sig: sig, log: log.With().Str("component", "inbox").Logger(),
		kick: make(chan struct{}, 1), batch: 50, lease: 30 * time.Second}
}

// Kick asks for a delivery pass now; it never blocks.
func (d *Deliverer) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run delivers on every kick and at least every sweep interval, until ctx
// ends.
func (d *Deliverer) Run(ctx context.Context, sweep time.Duration) {
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

// DeliverDue makes one pass over the deliveries that are due and returns
// how many it tried.
func (d *Deliverer) DeliverDue(ctx context.Context) (int, error) {
	q := db.New(d.pool)
	events, err := q.LeaseDueWebhookEvents(ctx, db.LeaseDueWebhookEventsParams{LeaseMs: int32(d.lease / time.Millisecond), Batch: d.batch})
	if err != nil {
		return 0, fmt.Errorf("inbox: lease: %w", err)
	}
	for i, e := range events {
		if !d.deliver(ctx, q, e) {
			// Temporal is unreachable or hanging: the rest stay leased and
			// are tried again after the lease, not one by one now.
			return i + 1, nil
		}
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
		log.Debug().Int32("attempt", e.Attempts+1).Msg("delivered")
	case errors.As(err, &notFound):
		// The workflow has finished (a late duplicate) or never existed.
		note := "workflow not running: " + err.Error()
		err = q.MarkWebhookEventDelivered(ctx, db.MarkWebhookEventDeliveredParams{ID: e.ID, Note: &note})
		log.Warn().Msg("delivery dropped: its workflow is not running (a late duplicate, or a call that ended early)")
	default:
		retryIn := min(time.Second<<min(e.Attempts, 6), time.Minute)
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
