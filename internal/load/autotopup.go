package load

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mobayilo/mobayilo/internal/payments"
)

// Automatic top-up in a run (-auto-topup): a share of the users save the
// card their first top-up pays with and turn auto top-up on (below $4.95,
// add $5, at most $10 a month: their first charge sets it off), so their
// calls' charges top them up off-session as they go. Before the drain they turn it off, their
// workflows end, and every automatic top-up the app made is recorded as a
// top-up of the run: the money check holds them to the same rule, paid
// at the processor means credited exactly once.

// autoTopUpForm is what those users save.
var autoTopUpForm = url.Values{"threshold": {"4.95"}, "amount": {"500"}, "cap": {"10.00"}}

// turnOnAutoTopUp saves the form with auto top-up on, trying again while
// the saved card is not there yet (it is saved when the first top-up is
// credited).
func (d *driver) turnOnAutoTopUp(ctx context.Context, u *user) {
	form := url.Values{"enabled": {"on"}}
	for k, v := range autoTopUpForm {
		form[k] = v
	}
	for attempt := 0; attempt < 20 && ctx.Err() == nil; attempt++ {
		resp, err := u.post(ctx, "/credits/auto", form)
		if err == nil && resp.StatusCode == http.StatusSeeOther {
			d.mu.Lock()
			d.autoUsers = append(d.autoUsers, u)
			d.mu.Unlock()
			return
		}
		time.Sleep(time.Second)
	}
	d.fail("%s: auto top-up could not be turned on", u.email)
}

// settleAutoTopUps turns every auto top-up of the run off, waits (within
// limit) for their workflows to end, and records each automatic top-up the
// app made, paid or not as the processor holds it.
func (d *driver) settleAutoTopUps(ctx context.Context, limit time.Duration, running func(context.Context) ([]string, error)) {
	d.mu.Lock()
	users := append([]*user(nil), d.autoUsers...)
	d.mu.Unlock()
	if len(users) == 0 {
		return
	}
	d.setPhase("turning auto top-up off")
	for _, u := range users {
		var err error
		var resp *http.Response
		for attempt := 0; attempt < 5; attempt++ {
			if resp, err = u.post(ctx, "/credits/auto", autoTopUpForm); err == nil && resp.StatusCode == http.StatusSeeOther {
				break
			}
			time.Sleep(time.Second)
		}
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			d.fail("%s: auto top-up could not be turned off: %v %v", u.email, status(resp), err)
		}
	}
	_ = waitUntil(ctx, limit, "the auto top-up workflows to end", func() bool {
		ids, err := running(ctx)
		if err != nil {
			return false
		}
		for _, id := range ids {
			if strings.HasPrefix(id, "autotopup-") {
				return false
			}
		}
		return true
	})
	rows, err := d.st.pool.Query(ctx, `SELECT t.id::text, COALESCE(t.payment_intent_id, ''), u.email, t.amount_cents
		FROM auto_topup_runs r JOIN topups t ON t.id = r.topup_id JOIN users u ON u.id = r.user_id ORDER BY r.created_at`)
	if err != nil {
		d.fail("read the automatic top-ups: %v", err)
		return
	}
	defer rows.Close()
	var recs []TopUpRecord
	for rows.Next() {
		rec := TopUpRecord{Outcome: TopUpAuto}
		if err := rows.Scan(&rec.TopUpID, &rec.PaymentIntentID, &rec.UserEmail, &rec.AmountCents); err != nil {
			d.fail("read the automatic top-ups: %v", err)
			return
		}
		if pi, ok := d.st.payments.Intent(rec.PaymentIntentID); ok {
			rec.Paid = pi.Status == payments.StatusSucceeded
		}
		recs = append(recs, rec)
	}
	if err := rows.Err(); err != nil {
		d.fail("read the automatic top-ups: %v", err)
		return
	}
	d.note("%d users had auto top-up on; it made %d top-ups", len(users), len(recs))
	d.mu.Lock()
	d.topUpRecs = append(d.topUpRecs, recs...)
	d.mu.Unlock()
}
