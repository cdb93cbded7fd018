package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/metrics"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/workflows"
)

// scrape reads the env's /metrics as Prometheus would.
func (e *callEnv) scrape() metrics.Snapshot {
	e.t.Helper()
	srv := httptest.NewServer(e.metrics.Handler())
	defer srv.Close()
	s, err := metrics.Scrape(context.Background(), srv.Client(), srv.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// After one call (every callback tripled), one top-up (every event
// tripled) and one forged webhook, the counters and histograms moved by
// exactly that: no more, no less.
func TestMetricsCountWhatACallAndATopUpDid(t *testing.T) {
	e := newCallEnv(t)
	b := e.caller("metered@example.com", 500)
	before := e.scrape()

	status, call := b.startCall("+234 803 123 4567")
	if status != http.StatusCreated {
		t.Fatalf("POST /calls: %d %+v", status, call)
	}
	sc, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, 61*time.Second, carrier.Faults{Copies: 3, Shuffle: true})
	if err != nil {
		t.Fatal(err)
	}
	if st := e.finish(call.CallID); st.BillingState != workflows.BillingCharged {
		t.Fatalf("call state %+v", st)
	}

	id := b.buy(1000)
	row := e.topup(id)
	if err := e.web.PaymentSimulator().Confirm(context.Background(), row.PaymentIntent, payments.CardSucceeds, 0,
		payments.Faults{Copies: 3, Shuffle: true}); err != nil {
		t.Fatal(err)
	}
	e.awaitTopUp(id, workflows.TopUpSucceeded)

	form := url.Values{"CallSid": {"CAforged"}, "From": {"client:" + call.Identity}, "CallId": {call.CallID}}
	req, _ := http.NewRequest(http.MethodPost, e.srv0()+"/api/webhooks/twilio/voice", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", "forged")
	if r := e.browser().do(req); r.status != http.StatusForbidden {
		t.Fatalf("forged voice webhook: %d", r.status)
	}

	// What the database says happened, to compare the counters with.
	var statusCallbacks, actions, stripeEvents, stored int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE event_type = 'status'),
		count(*) FILTER (WHERE event_type = 'dial-action'), count(*) FILTER (WHERE source = 'stripe'), count(*)
		FROM webhook_events`).Scan(&statusCallbacks, &actions, &stripeEvents, &stored); err != nil {
		t.Fatal(err)
	}
	// The inbox marks a delivery delivered after the signal: wait for it.
	var after metrics.Snapshot
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		after = e.scrape()
		if after.Value("mobayilo_webhook_inbox_waiting") == 0 || time.Now().After(deadline) {
			break
		}
	}
	delta := func(name string, labels ...string) float64 {
		return after.Value(name, labels...) - before.Value(name, labels...)
	}
	for _, c := range []struct {
		what string
		got  float64
		want float64
	}{
		{"POST /calls answered 201", delta("mobayilo_http_request_duration_seconds", "route", "/calls", "method", "POST", "code", "201"), 1},
		{"authorizations granted", delta("mobayilo_call_authorizations_total", "result", "authorized"), 1},
		{"authorizations refused", delta("mobayilo_call_authorizations_total", "result", "refused"), 0},
		{"calls finished, completed to Nigeria", delta("mobayilo_calls_finished_total", "status", "completed", "country", "NG"), 1},
		{"calls finished in all", delta("mobayilo_calls_finished_total"), 1},
		{"billing lags observed", delta("mobayilo_call_billing_lag_seconds"), 1},
		{"call charges posted", delta("mobayilo_ledger_postings_total", "kind", "call_charge"), 1},
		{"purchases posted", delta("mobayilo_ledger_postings_total", "kind", "purchase"), 1},
		{"postings in all", delta("mobayilo_ledger_postings_total"), 2},
		{"top-ups credited", delta("mobayilo_topups_total", "outcome", "credited"), 1},
		{"top-up outcomes in all", delta("mobayilo_topups_total"), 1},
		{"credit lags observed", delta("mobayilo_topup_credit_lag_seconds"), 1},
		// Three copies of every callback and event; one voice request, and
		// the forged one.
		{"status callbacks received", delta("mobayilo_webhooks_received_total", "source", "twilio_status"), float64(3 * statusCallbacks)},
		{"stripe events received", delta("mobayilo_webhooks_received_total", "source", "stripe"), float64(3 * stripeEvents)},
		{"voice requests received", delta("mobayilo_webhooks_received_total", "source", "twilio_voice"), 2},
		{"voice requests refused for their signature", delta("mobayilo_webhooks_refused_total", "source", "twilio_voice", "reason", "bad_signature"), 1},
		{"webhooks refused in all", delta("mobayilo_webhooks_refused_total"), 1},
		{"dial actions received", delta("mobayilo_webhooks_received_total", "source", "twilio_dial_action"), float64(3 * actions)},
		// Each stored delivery once: to its workflow, or dropped when that
		// had finished (a late duplicate); never failed here.
		{"stored webhooks delivered or dropped", delta("mobayilo_webhook_inbox_deliveries_total", "result", "delivered") +
			delta("mobayilo_webhook_inbox_deliveries_total", "result", "dropped"), float64(stored)},
		{"deliveries failed", delta("mobayilo_webhook_inbox_deliveries_total", "result", "failed"), 0},
		{"deliveries waiting", after.Value("mobayilo_webhook_inbox_waiting"), 0},
		{"calls awaiting billing", after.Value("mobayilo_calls_awaiting_billing"), 0},
		{"database gauges read", after.Value("mobayilo_database_gauges_up"), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	// The billing lag is the final callback's arrival to the charge: it
	// cannot be longer than the test took from the callback on.
	_, _, lagSum := after.Histogram("mobayilo_call_billing_lag_seconds")
	if _, _, was := before.Histogram("mobayilo_call_billing_lag_seconds"); lagSum-was <= 0 || lagSum-was > time.Since(sc.FinalAt).Seconds() {
		t.Errorf("billing lag %.3f s; the final callback was %.3f s ago", lagSum-was, time.Since(sc.FinalAt).Seconds())
	}
	// The Temporal SDK's own metrics, through the same registry.
	for _, name := range []string{"temporal_workflow_task_execution_latency_seconds", "temporal_local_activity_execution_latency_seconds",
		"temporal_workflow_task_schedule_to_start_latency_seconds", "temporal_workflow_completed_total"} {
		if delta(name) <= 0 {
			t.Errorf("%s did not move (have %v)", name, familyNames(after, "temporal_"))
		}
	}
}

func familyNames(s metrics.Snapshot, prefix string) []string {
	var out []string
	for name := range s {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	return out
}
