package inbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/inbox"
	"github.com/mobayilo/mobayilo/internal/testdb"
)

// signaler records signals and fails as told, per workflow.
type signaler struct {
	mu   sync.Mutex
	sent []string
	fail map[string]error
}

func (s *signaler) SignalWorkflow(_ context.Context, wid, _, name string, _ any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail[wid]; err != nil {
		return err
	}
	s.sent = append(s.sent, wid+"/"+name)
	return nil
}

func (s *signaler) SignalWithStartWorkflow(_ context.Context, wid, name string, arg any, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail[wid]; err != nil {
		return nil, err
	}
	in, _ := json.Marshal(args[0])
	s.sent = append(s.sent, fmt.Sprintf("%s/%s+start %v on %s with %s", wid, name, wf, o.TaskQueue, in))
	return nil, nil
}

func store(t *testing.T, q *db.Queries, key, wid string) bool {
	t.Helper()
	_, stored, err := inbox.Store(context.Background(), q, inbox.Event{Source: "twilio", DedupKey: key, Type: "status", Signal: "twilio-status", WorkflowID: wid, Payload: map[string]string{"k": key}})
	if err != nil {
		t.Fatal(err)
	}
	return stored
}

// expireLeases makes every stored delivery due for the sweep, as if the
// instance that stored them had died before sending them.
func expireLeases(t *testing.T, pool interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), `UPDATE webhook_events SET next_attempt_at = now() WHERE delivered_at IS NULL`); err != nil {
		t.Fatal(err)
	}
}

func TestStoreDedupsAndDeliveryOutcomes(t *testing.T) {
	pool := testdb.New(t)
	q := db.New(pool)
	ctx := context.Background()
	if !store(t, q, "a", "call-ok") || store(t, q, "a", "call-ok") {
		t.Fatal("a repeat was stored again, or the first was not")
	}
	store(t, q, "b", "call-gone")
	store(t, q, "c", "call-flaky")
	expireLeases(t, pool)
	sig := &signaler{fail: map[string]error{
		"call-gone":  serviceerror.NewNotFound("workflow not found"),
		"call-flaky": errors.New("transient"),
	}}
	d := inbox.NewDeliverer(pool, sig, zerolog.Nop())
	if n, err := d.DeliverDue(ctx); err != nil || n != 3 {
		t.Fatalf("pass: %d %v", n, err)
	}
	rows, err := pool.Query(ctx, `SELECT dedup_key, delivered_at IS NOT NULL, attempts, next_attempt_at > now() FROM webhook_events ORDER BY dedup_key`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := map[string][3]any{"a": {true, int32(1), true}, "b": {true, int32(1), true}, "c": {false, int32(1), true}}
	for rows.Next() {
		var key string
		var delivered, later bool
		var attempts int32
		if err := rows.Scan(&key, &delivered, &attempts, &later); err != nil {
			t.Fatal(err)
		}
		w := want[key]
		if delivered != w[0] || attempts != w[1] || (!delivered && !later) {
			t.Errorf("%s: delivered=%v attempts=%d retry later=%v", key, delivered, attempts, later)
		}
	}
	// Nothing is due again yet: the failed one waits for its backoff.
	if n, _ := d.DeliverDue(ctx); n != 0 {
		t.Fatalf("%d deliveries due right after a pass", n)
	}
	if len(sig.sent) != 1 || sig.sent[0] != "call-ok/twilio-status" {
		t.Fatalf("sent %v", sig.sent)
	}
}

func TestUnavailableTemporalStopsThePass(t *testing.T) {
	pool := testdb.New(t)
	q := db.New(pool)
	for _, k := range []string{"a", "b", "c"} {
		store(t, q, k, "call-x")
	}
	expireLeases(t, pool)
	sig := &signaler{fail: map[string]error{"call-x": serviceerror.NewUnavailable("connection refused")}}
	if n, err := inbox.NewDeliverer(pool, sig, zerolog.Nop()).DeliverDue(context.Background()); err != nil || n != 0 {
		t.Fatalf("a pass against an unavailable Temporal answered %d (%v), want 0: no further pass", n, err)
	}
	var undelivered int
	_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_events WHERE delivered_at IS NULL`).Scan(&undelivered)
	if undelivered != 3 {
		t.Fatalf("%d undelivered, want all 3 kept", undelivered)
	}
}

func TestDeliveryThatMayStartItsWorkflow(t *testing.T) {
	pool := testdb.New(t)
	q := db.New(pool)
	ctx := context.Background()
	_, stored, err := inbox.Store(ctx, q, inbox.Event{Source: "stripe", DedupKey: "evt_1", Type: "charge.refunded", Signal: "stripe-event",
		WorkflowID: "topup-1", Payload: map[string]string{"k": "v"}, Start: &inbox.Start{Workflow: "TopUp", Input: map[string]any{"TopUpID": "1", "Resumed": true}}})
	if err != nil || !stored {
		t.Fatal(stored, err)
	}
	expireLeases(t, pool)
	sig := &signaler{}
	d := inbox.NewDeliverer(pool, sig, zerolog.Nop())
	d.TaskQueue = "q1"
	if n, err := d.DeliverDue(ctx); err != nil || n != 1 {
		t.Fatalf("pass: %d %v", n, err)
	}
	want := `topup-1/stripe-event+start TopUp on q1 with {"Resumed":true,"TopUpID":"1"}`
	if len(sig.sent) != 1 || sig.sent[0] != want {
		t.Fatalf("sent %q\nwant %q", sig.sent, want)
	}
}

// A delivery handed to Send is signalled at once; until its lease ends the
// sweep leaves it to the instance that stored it, and takes it after.
func TestSendDeliversAtOnceAndTheSweepWaitsForTheLease(t *testing.T) {
	pool := testdb.New(t)
	q := db.New(pool)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sig := &signaler{}
	d := inbox.NewDeliverer(pool, sig, zerolog.Nop())
	row, stored, err := inbox.Store(ctx, q, inbox.Event{Source: "twilio", DedupKey: "sent", Type: "status", Signal: "twilio-status", WorkflowID: "call-1", Payload: map[string]string{}})
	if err != nil || !stored {
		t.Fatal(stored, err)
	}
	orphan := store(t, q, "orphan", "call-2") // stored, never sent: its instance died
	if !orphan {
		t.Fatal("not stored")
	}
	if n, err := d.DeliverDue(ctx); err != nil || n != 0 {
		t.Fatalf("the sweep took %d leased deliveries (%v)", n, err)
	}
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx, time.Hour) }()
	d.Send(ctx, row)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var delivered bool
		_ = pool.QueryRow(ctx, `SELECT delivered_at IS NOT NULL FROM webhook_events WHERE dedup_key = 'sent'`).Scan(&delivered)
		if delivered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a sent delivery was not marked delivered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	expireLeases(t, pool)
	if n, err := d.DeliverDue(ctx); err != nil || n != 1 {
		t.Fatalf("after the lease the sweep took %d (%v), want the orphan", n, err)
	}
	cancel()
	<-done
	sig.mu.Lock()
	defer sig.mu.Unlock()
	if fmt.Sprint(sig.sent) != "[call-1/twilio-status call-2/twilio-status]" {
		t.Fatalf("sent %v", sig.sent)
	}
}

// slowSignaler holds each signal a while and records the most in flight.
type slowSignaler struct {
	signaler
	inFlight, most int
	hold           time.Duration
}

func (s *slowSignaler) SignalWorkflow(ctx context.Context, wid, run, name string, arg any) error {
	s.mu.Lock()
	s.inFlight++
	s.most = max(s.most, s.inFlight)
	s.mu.Unlock()
	time.Sleep(s.hold)
	s.mu.Lock()
	s.inFlight--
	s.mu.Unlock()
	return s.signaler.SignalWorkflow(ctx, wid, run, name, arg)
}

// A burst handed to Send and to the sweep at once never has more than
// Senders signals in flight: the rest wait here, not on Temporal in front
// of people's requests.
func TestABurstHasAtMostSendersInFlight(t *testing.T) {
	for _, senders := range []int{0, 2} { // 0: the default
		t.Run(fmt.Sprint(senders), func(t *testing.T) {
			pool := testdb.New(t)
			q := db.New(pool)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sig := &slowSignaler{hold: 20 * time.Millisecond}
			d := inbox.NewDeliverer(pool, sig, zerolog.Nop())
			d.Senders = senders
			const n = 40
			var rows []db.WebhookEvent
			for i := range n {
				row, stored, err := inbox.Store(ctx, q, inbox.Event{Source: "twilio", DedupKey: fmt.Sprint("burst-", i), Type: "status",
					Signal: "twilio-status", WorkflowID: fmt.Sprint("call-", i), Payload: map[string]string{}})
				if err != nil || !stored {
					t.Fatal(stored, err)
				}
				rows = append(rows, row)
			}
			done := make(chan struct{})
			go func() { defer close(done); d.Run(ctx, time.Hour) }()
			for _, r := range rows[:n/2] {
				d.Send(ctx, r)
			}
			expireLeases(t, pool) // the other half (and any not sent yet) to a sweep beside the senders
			d.Kick()
			deadline := time.Now().Add(30 * time.Second)
			for {
				var left int
				_ = pool.QueryRow(ctx, `SELECT count(*) FROM webhook_events WHERE delivered_at IS NULL`).Scan(&left)
				if left == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d deliveries left", left)
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			<-done
			want := senders
			if want == 0 {
				want = inbox.DefaultSenders
			}
			sig.mu.Lock()
			defer sig.mu.Unlock()
			// The senders and the sweep share the bound.
			if sig.most != want {
				t.Fatalf("at most %d signals in flight, want %d", sig.most, want)
			}
		})
	}
}
