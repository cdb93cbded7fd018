// Package activities holds every Temporal activity: methods on one struct
// that carries the dependencies, one file per concern. Activities are
// idempotent; each is retried by the workflow's explicit policy.
package activities

import (
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/metrics"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
)

// Activities is registered once with the worker.
type Activities struct {
	Pool   *pgxpool.Pool
	Ledger *ledger.Ledger
	// Pricing reads the carrier's (Twilio's) prices; nil when nothing can
	// be read.
	Pricing       carrier.Pricing
	PricingPolicy rating.Pricing
	// Carrier reads and ends calls through the carrier's REST API (the
	// simulator in development).
	Carrier carrier.Calls
	// Rates and Rules price and authorize calls.
	Rates *ratedeck.Store
	Rules rating.Rules
	// Payments is the payment processor (Stripe, or the payment simulator
	// through the same client in development).
	Payments payments.Gateway
	// Retention is how long housekeeping keeps sign-in failures, reset
	// tokens and delivered webhook events (DATA_RETENTION).
	Retention time.Duration
	// Metrics counts what the activities settle: authorizations, calls
	// billed, top-ups, ledger postings, the ledger audit (nil: nothing).
	Metrics *metrics.Metrics
	// Signaler tells a call in progress that its balance changed (a
	// refund, a dispute, a credit: the call workflow's balance-changed);
	// nil: nothing is told.
	Signaler Signaler
	// Mailer sends the email saying auto top-up was turned off (nil:
	// none is sent; the banner still says it).
	Mailer mail.Sender
	// Workflows lists and deletes a deleted account's workflow executions
	// (the Temporal client; nil: their histories are left).
	Workflows WorkflowDeleter
}

// New returns the activities over a Postgres pool.
func New(pool *pgxpool.Pool) *Activities {
	return &Activities{Pool: pool, Ledger: ledger.New(pool)}
}
