// Package receipts emails a receipt for every ledger entry that moves money
// between a wallet and Stripe, once per entry.
//
// The posting writes the receipt's row (Queue) in its own transaction,
// keyed by the entry's idempotency key: a posting replayed (a duplicate
// webhook, a retried activity) writes none, and a posting rolled back
// leaves none. The Deliverer, a loop of the web role (which holds the
// mailer), leases the rows that are due, renders each from the entry as
// stored (amount, balance after, date) and sends it through the mailer,
// then marks it sent. A crash or a lost database between the send and the
// mark sends it again after its lease, under the same Message-ID: a
// receipt is sent at least once, and once unless that happens.
package receipts

import (
	"context"
	"fmt"
	"regexp"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/ledger"
)

// Owed reports whether an entry of kind k gets a receipt: a credited
// top-up, a refund, a dispute, and the entries that give a refund's or a
// dispute's money back.
func Owed(k ledger.Kind) bool {
	switch k {
	case ledger.Purchase, ledger.Refund, ledger.Dispute, ledger.RefundFailure, ledger.DisputeReversal:
		return true
	}
	return false
}

var digits4 = regexp.MustCompile(`^[0-9]{4}$`)

// Queue records that p's receipt is owed, on q: the transaction that
// posted p, so the receipt exists exactly when the entry does. A replayed
// post queues nothing (its first post did, or was made before receipts
// existed), nor does a kind that gets no receipt. cardLast4 is the last
// four digits of the card that paid, when the payment said; "" (or
// anything but four digits) leaves it to the top-up's own receipt, and a
// receipt with no known card names none.
func Queue(ctx context.Context, q *db.Queries, p ledger.Posted, cardLast4 string) error {
	if p.Replayed || !Owed(p.Kind) {
		return nil
	}
	var last4 *string
	if digits4.MatchString(cardLast4) {
		last4 = &cardLast4
	}
	if err := q.QueueReceipt(ctx, db.QueueReceiptParams{IdempotencyKey: p.Key, CardLast4: last4, TopUpID: p.TopUpID}); err != nil {
		return fmt.Errorf("receipts: queue %s: %w", p.Key, err)
	}
	return nil
}
