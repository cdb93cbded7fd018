package receipts

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/internal/jobs"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/mail"
)

// How the deliverer paces itself. A batch is sent one receipt at a time,
// each send bounded by sendTimeout, all well inside the lease: a receipt
// is sent again only when its deliverer died (or lost the database)
// between the send and the mark.
const (
	// DefaultInterval is how often pending receipts are looked for.
	DefaultInterval = 2 * time.Second
	lease           = 10 * time.Minute
	batch           = 10
	sendTimeout     = 30 * time.Second
	// MaxAttempts failed sends give a receipt up (after about four hours
	// of backoff); its last_error stays for support.
	MaxAttempts = 10
)

// Deliverer sends the receipts that are owed. Any number of them may run
// (one per web instance): each receipt is leased to one at a time.
type Deliverer struct {
	pool    *pgxpool.Pool
	mailer  mail.Sender
	baseURL string
	log     zerolog.Logger
	// Interval is how often it looks for receipts that are due.
	Interval time.Duration
}

// NewDeliverer returns a deliverer sending through mailer; baseURL is the
// app's public address, for the receipts' links and Message-IDs.
func NewDeliverer(pool *pgxpool.Pool, mailer mail.Sender, baseURL string, log zerolog.Logger) *Deliverer {
	return &Deliverer{pool: pool, mailer: mailer, baseURL: baseURL, Interval: DefaultInterval,
		log: log.With().Str("component", "receipts").Logger()}
}

// Job is the deliverer as a loop of its role.
func (d *Deliverer) Job() jobs.Job {
	return jobs.Job{Name: "receipts", Run: func(ctx context.Context) error { d.Run(ctx); return nil }}
}

// Run sends what is due at once and then every Interval, until ctx ends.
func (d *Deliverer) Run(ctx context.Context) {
	t := time.NewTicker(d.Interval)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			n, err := d.DeliverDue(ctx)
			if err != nil {
				if ctx.Err() == nil {
					d.log.Warn().Err(err).Msg("receipts pass failed; next one in its interval")
				}
				break
			}
			if n < batch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// DeliverDue leases one batch of receipts that are due and sends each,
// returning how many it leased.
func (d *Deliverer) DeliverDue(ctx context.Context) (int, error) {
	q := db.New(d.pool)
	due, err := q.LeaseDueReceipts(ctx, db.LeaseDueReceiptsParams{LeaseMs: int32(lease / time.Millisecond), Batch: batch})
	if err != nil {
		return 0, fmt.Errorf("receipts: lease: %w", err)
	}
	for _, r := range due {
		if ctx.Err() != nil {
			break // the rest wait for their lease to end
		}
		d.deliver(ctx, q, r)
	}
	return len(due), nil
}

// deliver sends one receipt and records the outcome.
func (d *Deliverer) deliver(ctx context.Context, q *db.Queries, r db.LeaseDueReceiptsRow) {
	log := d.log.With().Int64("receipt_id", r.ID).Int64("entry_id", r.EntryID).Str("kind", r.Kind).
		Str("user_id", r.UserID.String()).Logger()
	if r.TopUpID != nil {
		log = log.With().Str("topup_id", r.TopUpID.String()).Logger()
	}
	rc := Receipt{ID: r.ID, EntryID: r.EntryID, Kind: ledger.Kind(r.Kind), AmountCents: r.AmountCents,
		BalanceAfterCents: r.BalanceAfterCents, TopUpID: r.TopUpID, PostedAt: r.PostedAt, To: r.Email, Name: r.DisplayName,
		Location: accounts.Location(db.User{TimeZone: r.TimeZone})}
	if r.CardLast4 != nil {
		rc.CardLast4 = *r.CardLast4
	}
	msg, err := Render(rc, d.baseURL)
	if err == nil {
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		err = d.mailer.Send(sctx, msg)
		cancel()
	}
	// The outcome is recorded even when the role is stopping.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err == nil {
		if merr := q.MarkReceiptSent(mctx, r.ID); merr != nil {
			log.Error().Err(merr).Msg("receipt sent but not marked: it is sent again, under the same Message-ID, after its lease")
			return
		}
		log.Info().Msg("receipt sent")
		return
	}
	attempts := r.Attempts + 1
	retryIn := min(30*time.Second<<min(r.Attempts, 10), 4*time.Hour)
	if merr := q.MarkReceiptFailed(mctx, db.MarkReceiptFailedParams{ID: r.ID, LastError: ptr(cut(err.Error(), 1000)),
		RetryInMs: int32(retryIn / time.Millisecond), MaxAttempts: MaxAttempts}); merr != nil {
		log.Warn().Err(merr).Msg("record receipt failure")
	}
	if attempts >= MaxAttempts {
		log.Error().Err(err).Int32("attempt", attempts).Msg("receipt given up after too many failed sends")
		return
	}
	log.Warn().Err(err).Int32("attempt", attempts).Dur("retry_in", retryIn).Msg("receipt not sent; will retry")
}

func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

func ptr(s string) *string { return &s }
