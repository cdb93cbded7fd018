package payments_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/internal/payments"
)

// fixtureTypes are the event types of testdata/stripe/ (Stripe's own
// fixtures of API version 2023-10-16): every type the app handles, and the
// ones the simulator sends besides.
func fixtureTypes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "stripe", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	var out []string
	for _, f := range files {
		out = append(out, strings.TrimSuffix(filepath.Base(f), ".json"))
	}
	return out
}

func readFixture(t *testing.T, typ string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "stripe", typ+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// shape is the key sets of an event: its envelope, data, request and
// data.object.
func shape(t *testing.T, body []byte) map[string][]string {
	t.Helper()
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{"event": keys(t, body)}
	out["data"] = keys(t, ev["data"])
	out["request"] = keys(t, ev["request"])
	var data map[string]json.RawMessage
	_ = json.Unmarshal(ev["data"], &data)
	out["data.object"] = keys(t, data["object"])
	return out
}

func keys(t *testing.T, raw []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not an object: %s", raw)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestSimulatorEventsHaveStripesShape(t *testing.T) {
	sim, g, sink := newSim(t)
	ctx := context.Background()
	all := payments.Faults{Unrelated: true}

	declined, _ := g.CreateIntent(ctx, payments.NewIntent{TopUpID: "t-declined", UserID: "u", AmountCents: 500})
	if err := sim.Confirm(ctx, declined.ID, payments.CardDeclined, 0, all); err != nil {
		t.Fatal(err)
	}
	if _, err := g.CancelIntent(ctx, declined.ID); err != nil {
		t.Fatal(err)
	}
	delayed, _ := g.CreateIntent(ctx, payments.NewIntent{TopUpID: "t-delayed", UserID: "u", AmountCents: 500})
	if err := sim.Confirm(ctx, delayed.ID, payments.CardDelayed, time.Millisecond, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	paid, _ := g.CreateIntent(ctx, payments.NewIntent{TopUpID: "t-paid", UserID: "u", AmountCents: 2000})
	if err := sim.Confirm(ctx, paid.ID, payments.CardSucceeds, 0, all); err != nil {
		t.Fatal(err)
	}
	rf, err := sim.Refund(ctx, paid.ID, 500, payments.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.FailRefund(ctx, rf.ID, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	dp, err := sim.Dispute(ctx, paid.ID, payments.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.ReviewDispute(ctx, dp, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	if err := sim.CloseDispute(ctx, dp, true, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	sim.Wait()

	sink.mu.Lock()
	bodies := sink.bodies
	sink.mu.Unlock()
	for _, typ := range fixtureTypes(t) {
		body, ok := bodies[typ]
		if !ok {
			t.Errorf("the simulator never sent %s", typ)
			continue
		}
		want, got := shape(t, readFixture(t, typ)), shape(t, body)
		for _, part := range []string{"event", "data", "request", "data.object"} {
			if !slices.Equal(got[part], want[part]) {
				t.Errorf("%s %s keys:\n got %v\nwant %v", typ, part, got[part], want[part])
			}
		}
		var ev struct {
			APIVersion string `json:"api_version"`
			Type       string `json:"type"`
		}
		_ = json.Unmarshal(body, &ev)
		if ev.APIVersion != payments.APIVersion || ev.Type != typ {
			t.Errorf("%s: api_version %q, type %q", typ, ev.APIVersion, ev.Type)
		}
	}

	// Stripe's API answers with the same states the events announced.
	d, err := g.GetDispute(ctx, dp)
	if err != nil || d.Status != payments.DisputeWon || d.PaymentIntentID != paid.ID || d.AmountCents != 2000 || d.Livemode { // the failed refund gave its 500 back
		t.Fatalf("dispute: %+v, %v", d, err)
	}
	refunds, _ := g.ListRefunds(ctx, paid.ID)
	if len(refunds) != 1 || refunds[0].Status != "failed" {
		t.Fatalf("refunds: %+v", refunds)
	}
}

func TestSimulatorDisputeLifecycleSendsWhatStripeSends(t *testing.T) {
	sim, g, sink := newSim(t)
	ctx := context.Background()
	paid, _ := g.CreateIntent(ctx, payments.NewIntent{TopUpID: "t", UserID: "u", AmountCents: 1000})
	if err := sim.Confirm(ctx, paid.ID, payments.CardSucceeds, 0, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	lost, _ := sim.Dispute(ctx, paid.ID, payments.Faults{})
	if err := sim.CloseDispute(ctx, lost, false, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	inquiry, _ := sim.Inquiry(ctx, paid.ID, payments.Faults{})
	if err := sim.CloseDispute(ctx, inquiry, false, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	want := "payment_intent.succeeded charge.dispute.created charge.dispute.funds_withdrawn charge.dispute.closed " +
		"charge.dispute.created charge.dispute.closed"
	if got := strings.Join(sink.types(), " "); got != want {
		t.Fatalf("events: %s\nwant %s", got, want)
	}
	if d, _ := g.GetDispute(ctx, lost); d.Status != payments.DisputeLost || !d.FundsWithdrawn() {
		t.Fatalf("lost dispute: %+v", d)
	}
	if d, _ := g.GetDispute(ctx, inquiry); d.Status != payments.DisputeWarningClosed || d.FundsWithdrawn() {
		t.Fatalf("closed inquiry: %+v", d)
	}
	if err := sim.CloseDispute(ctx, lost, true, payments.Faults{}); err == nil {
		t.Fatal("a closed dispute closed again")
	}
}
