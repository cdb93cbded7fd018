// Package webtest builds a web.Server for a test as cmd/mobayilo wires the
// web role, and runs its loops until the test ends.
package webtest

import (
	"context"
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/inbox"
	"github.com/mobayilo/mobayilo/internal/jobs"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/receipts"
	"github.com/mobayilo/mobayilo/web"
)

// New is web.New(d) with what d leaves nil built as the web role builds
// it (cmd/mobayilo's webRole): the rate deck from d.Pool, kept current; a
// webhook deliverer counting into d.Metrics, run; the Stripe gateway at STRIPE_API_BASE and, with
// PAYMENT_SIMULATOR, the payment simulator; Twilio's REST client (or the
// carrier simulator d.Simulator); a development mailbox, at /dev/mail;
// the receipts' deliverer, sending through the mailer, run. A
// d.Deliverer or d.Rates given is used as it is, and not run. The
// server's Jobs run until the test ends.
func New(t testing.TB, d web.Deps) *web.Server {
	t.Helper()
	var loops []jobs.Job
	if d.Rates == nil {
		rates, err := ratedeck.NewStore(context.Background(), d.Pool, d.Log)
		if err != nil {
			t.Fatal(err)
		}
		d.Rates = rates
		loops = append(loops, jobs.Job{Name: "rate-deck", Run: func(ctx context.Context) error { rates.Watch(ctx, 5*time.Minute); return nil }})
	}
	if d.Deliverer == nil {
		dl := inbox.NewDeliverer(d.Pool, d.Temporal, d.Log)
		dl.TaskQueue = d.Config.TemporalTaskQueue
		dl.Metrics = d.Metrics
		d.Deliverer = dl
		loops = append(loops, jobs.Job{Name: "webhook-inbox", Run: func(ctx context.Context) error { dl.Run(ctx, 2*time.Second); return nil }})
	}
	if d.Payments == nil {
		d.Payments = payments.NewStripe(d.Config.StripeSecretKey, d.Config.StripeAPIBase, nil)
	}
	if d.PaymentSimulator == nil && d.Config.PaymentSimulator && d.Config.Env != config.Production {
		d.PaymentSimulator = web.NewPaymentSimulator(d.Config)
	}
	if d.Calls == nil && d.Simulator != nil {
		d.Calls = d.Simulator
	} else if d.Calls == nil {
		calls, err := carrier.NewTwilioCallsAt(d.Config.TwilioAccountSID, d.Config.TwilioAPIKey, d.Config.TwilioAPISecret, d.Config.TwilioAPIBase)
		if err != nil {
			t.Fatal(err)
		}
		d.Calls = calls
	}
	if d.Mailer == nil {
		box := mail.NewMailbox(d.Log)
		d.Mailer, d.Mailbox = box, box
	}
	loops = append(loops, receipts.NewDeliverer(d.Pool, d.Mailer, d.Config.PublicBaseURL, d.Log).Job())
	s, err := web.New(d)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- jobs.Run(ctx, nil, append(s.Jobs(), loops...)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return s
}
