package web

import (
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/db"
)

// Sample data for the console's top-up page and failed payments list
// (TestEveryPageRenders), with markup in every string Stripe, a customer
// or staff controls.
func init() {
	now := time.Now()
	pi, code, decline, msg := "pi_<y>", "card_declined", "<generic_decline>", "Your card was <b>declined</b>."
	t := db.TopUp{ID: uuid.New(), UserID: uuid.New(), AmountCents: 500, Status: "succeeded", RefundedCents: 200, PaymentIntentID: &pi, CreatedAt: now}
	extraPageSamples["admin_topup"] = pageData{Tab: "admin", Data: adminTopUpData{TopUp: t, Email: "<y>@example.com", StateError: "<y>",
		Refunds:         []db.Transaction{{Kind: "refund", IdempotencyKey: "stripe:refund:re_<y>", AmountCents: -200, CreatedAt: now}},
		RefundableCents: 300, CanRefund: true, CanCancel: true, RefundKey: uuid.NewString(), CancelKey: uuid.NewString(),
		Failures: []db.PaymentFailure{{StripeEventID: "evt_<y>", Code: &code, DeclineCode: &decline, Message: &msg, FailedAt: now}}},
		Form:   url.Values{"form": {"refund"}, "amount": {"<y>"}, "reason": {"<y>"}},
		Errors: map[string]string{"refund": "<y>", "amount": "<y>", "reason": "<y>", "cancel": "<y>", "cancel_reason": "<y>"}}
	extraPageSamples["admin_payments_failed"] = pageData{Tab: "admin", Data: failedPaymentsData{Older: "/admin/payments/failed?before=1",
		Failures: []db.ListPaymentFailuresRow{{ID: 2, StripeEventID: "evt_<y>", TopUpID: uuid.New(), UserID: uuid.New(), AmountCents: 500,
			Code: &code, DeclineCode: &decline, Message: &msg, FailedAt: now, Email: "<y>@example.com", TopUpStatus: "succeeded"}}}}
}
