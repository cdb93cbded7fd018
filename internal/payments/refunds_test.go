package payments_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mobayilo/mobayilo/internal/payments"
)

// refundCapture is testdata/stripe/api/refund_create.json: the request the
// console sends and Stripe's answers.
type refundCapture struct {
	Request struct {
		Form map[string]string `json:"form"`
	} `json:"request"`
	Response   json.RawMessage `json:"response"`
	OverRefund struct {
		Status int             `json:"status"`
		Body   json.RawMessage `json:"body"`
	} `json:"over_refund"`
}

func readRefundCapture(t *testing.T) refundCapture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "stripe", "api", "refund_create.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c refundCapture
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// A support refund through the simulator, as through Stripe: partial, a
// second partial, an over-refund refused as Stripe refuses it, and a retry
// with the same idempotency key that refunds nothing more; charge.refunded
// follows each refund with the running total.
func TestSimulatorRefundsAsStripeDoes(t *testing.T) {
	sim, g, sink := newSim(t)
	ctx := context.Background()
	pi, _ := g.CreateIntent(ctx, payments.NewIntent{TopUpID: "t-refund", UserID: "u", AmountCents: 500})
	// refundedSays is the charge.refunded event's amount_refunded (and
	// refunded) once the refund's delivery is done.
	refundedSays := func() (int64, bool) {
		t.Helper()
		sim.Wait()
		sink.mu.Lock()
		body := sink.bodies["charge.refunded"]
		sink.mu.Unlock()
		var ev struct {
			Data struct {
				Object struct {
					AmountRefunded int64  `json:"amount_refunded"`
					Refunded       bool   `json:"refunded"`
					PaymentIntent  string `json:"payment_intent"`
				} `json:"object"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &ev); err != nil || ev.Data.Object.PaymentIntent != pi.ID {
			t.Fatalf("charge.refunded: %s, %v", body, err)
		}
		return ev.Data.Object.AmountRefunded, ev.Data.Object.Refunded
	}

	// Nothing to refund before the payment.
	if _, err := g.CreateRefund(ctx, payments.NewRefund{PaymentIntentID: pi.ID, AmountCents: 100, Key: "k0"}); !errors.Is(err, payments.ErrPermanent) {
		t.Fatalf("a refund of an unpaid payment: %v", err)
	}
	if err := sim.Confirm(ctx, pi.ID, payments.CardSucceeds, 0, payments.Faults{}); err != nil {
		t.Fatal(err)
	}

	first, err := g.CreateRefund(ctx, payments.NewRefund{PaymentIntentID: pi.ID, AmountCents: 200, Key: "k1", TopUpID: "t-refund", Note: "wrong package"})
	if err != nil || first.AmountCents != 200 || first.Status != "succeeded" || !strings.HasPrefix(first.ID, "re_") {
		t.Fatalf("first refund: %+v, %v", first, err)
	}
	if n, all := refundedSays(); n != 200 || all {
		t.Fatalf("after the first refund charge.refunded says %d refunded (all: %t)", n, all)
	}
	// The same key again (a double submit): the same refund, no second one.
	again, err := g.CreateRefund(ctx, payments.NewRefund{PaymentIntentID: pi.ID, AmountCents: 200, Key: "k1", TopUpID: "t-refund", Note: "wrong package"})
	if err != nil || again.ID != first.ID {
		t.Fatalf("retry with the same key: %+v, %v (first %s)", again, err, first.ID)
	}
	// The same key with other parameters is refused, as Stripe refuses it.
	if _, err := g.CreateRefund(ctx, payments.NewRefund{PaymentIntentID: pi.ID, AmountCents: 100, Key: "k1", TopUpID: "t-refund"}); !errors.Is(err, payments.ErrPermanent) ||
		!strings.Contains(err.Error(), "idempotency_error") && !strings.Contains(err.Error(), "same parameters") {
		t.Fatalf("the same key with another amount: %v", err)
	}
	second, err := g.CreateRefund(ctx, payments.NewRefund{PaymentIntentID: pi.ID, AmountCents: 100, Key: "k2"})
	if err != nil || second.ID == first.ID || second.AmountCents != 100 {
		t.Fatalf("second refund: %+v, %v", second, err)
	}
	if n, _ := refundedSays(); n != 300 {
		t.Fatalf("after the second refund charge.refunded says %d refunded", n)
	}
	// 200 are left: 300 is refused, with Stripe's message, and nothing changes.
	_, err = g.CreateRefund(ctx, payments.NewRefund{PaymentIntentID: pi.ID, AmountCents: 300, Key: "k3"})
	if !errors.Is(err, payments.ErrPermanent) || !strings.Contains(err.Error(), "Refund amount ($3.00) is greater than unrefunded amount on charge ($2.00)") {
		t.Fatalf("an over-refund: %v", err)
	}
	// A full refund takes what is left.
	rest, err := g.CreateRefund(ctx, payments.NewRefund{PaymentIntentID: pi.ID, Key: "k4"})
	if err != nil || rest.AmountCents != 200 {
		t.Fatalf("the rest: %+v, %v", rest, err)
	}
	if n, all := refundedSays(); n != 500 || !all {
		t.Fatalf("after the full refund charge.refunded says %d refunded (all: %t)", n, all)
	}
	if _, err := g.CreateRefund(ctx, payments.NewRefund{PaymentIntentID: pi.ID, AmountCents: 1, Key: "k5"}); !errors.Is(err, payments.ErrPermanent) ||
		!strings.Contains(err.Error(), "charge_already_refunded") {
		t.Fatalf("a refund of a wholly refunded charge: %v", err)
	}
	refunds, err := g.ListRefunds(ctx, pi.ID)
	if err != nil || len(refunds) != 3 {
		t.Fatalf("refunds %+v, %v", refunds, err)
	}
	sim.Wait()
	// One charge.refunded per refund: none for the replay or the refusals.
	n := 0
	for _, typ := range sink.types() {
		if typ == "charge.refunded" {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("events %v, want three charge.refunded", sink.types())
	}
}

// The simulator's POST /v1/refunds takes the request stripe-go sends and
// answers with the keys of Stripe's refund object, and refuses an
// over-refund with Stripe's error shape (testdata/stripe/api/).
func TestSimulatorRefundHasStripesShape(t *testing.T) {
	sim, g, _ := newSim(t)
	ctx := context.Background()
	capture := readRefundCapture(t)
	pi, _ := g.CreateIntent(ctx, payments.NewIntent{TopUpID: "t-shape", UserID: "u", AmountCents: 500})
	if err := sim.Confirm(ctx, pi.ID, payments.CardSucceeds, 0, payments.Faults{}); err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(sim.Handler())
	defer api.Close()
	post := func(key string, form url.Values) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, api.URL+"/v1/refunds", strings.NewReader(form.Encode()))
		req.Header.Set("Authorization", "Bearer sk_test_sim")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	form := url.Values{}
	for k, v := range capture.Request.Form {
		form.Set(k, v)
	}
	form.Set("payment_intent", pi.ID)
	status, body := post("shape-1", form)
	if status != 200 || !slices.Equal(keys(t, body), keys(t, capture.Response)) {
		t.Fatalf("refund: %d\n got %v\nwant %v", status, keys(t, body), keys(t, capture.Response))
	}
	var got struct {
		Metadata map[string]string `json:"metadata"`
		Reason   string            `json:"reason"`
		Amount   int64             `json:"amount"`
	}
	_ = json.Unmarshal(body, &got)
	if got.Amount != 200 || got.Reason != "requested_by_customer" || got.Metadata["support_reason"] != capture.Request.Form["metadata[support_reason]"] {
		t.Fatalf("refund object: %+v", got)
	}
	form.Set("amount", "500")
	status, body = post("shape-2", form)
	var e, want struct {
		Error map[string]string `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	_ = json.Unmarshal(capture.OverRefund.Body, &want)
	if status != capture.OverRefund.Status || e.Error["type"] != want.Error["type"] || e.Error["param"] != want.Error["param"] ||
		e.Error["message"] != "Refund amount ($5.00) is greater than unrefunded amount on charge ($3.00)" {
		t.Fatalf("over-refund: %d %s", status, body)
	}
	form.Set("reason", "support said so")
	if status, _ := post("shape-3", form); status != 400 {
		t.Fatalf("a reason outside Stripe's enum: %d", status)
	}
}
