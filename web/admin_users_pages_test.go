package web

import (
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/db"
)

// Sample data for the support console's users pages (TestEveryPageRenders),
// with markup in every string a user or staff member controls.
func init() {
	now := time.Now()
	disabled := now.Add(-time.Hour)
	pi := "pi_<y>"
	key := "admin:" + uuid.NewString()
	extraPageSamples["admin_users"] = pageData{Tab: "admin", Errors: map[string]string{"q": "Search with at most 200 characters."},
		Data: &adminUsersData{Query: "<y>", Searched: true, Users: []db.SearchUsersRow{
			{ID: uuid.New(), Email: "ama<y>@example.com", DisplayName: "Ama <b>O.</b>", Role: "admin", CachedBalanceCents: 1234, CreatedAt: now},
			{ID: uuid.New(), Email: "kofi@example.com", DisplayName: "Kofi <y>", Role: "user", DisabledAt: &disabled, CachedBalanceCents: -250, CreatedAt: now},
		}}}
	user := db.User{ID: uuid.New(), Email: "kofi<y>@example.com", DisplayName: "Kofi <b>O.</b>", HomeCountry: "GH", Role: "user", CreatedAt: now}
	d := adminUserData{User: user, BalanceCents: 1250, MaxAdjustment: maxAdjustmentCents, Key: uuid.NewString(), AccessKey: uuid.NewString(),
		Calls: []adminCallRow{
			{callRow: callRow{ID: uuid.NewString(), Number: "+233<b>", Country: "Ghana", Status: "completed", DurationSeconds: 61, CostCents: 28, Billed: true, At: now}, BillingState: "charged"},
			{callRow: callRow{ID: uuid.NewString(), Number: "+2348031234567", Country: "Nigeria", Status: "busy", At: now}, BillingState: "none"},
		},
		TopUps: []db.TopUp{{ID: uuid.New(), AmountCents: 1000, Status: "refunded", RefundedCents: 500, PaymentIntentID: &pi, CreatedAt: now}},
		Entries: []db.ListWalletEntriesRow{
			{ID: 3, Kind: "adjustment", AmountCents: -250, BalanceAfterCents: 1250, Memo: "Refund of a double charge <y>", CreatedAt: now},
			{ID: 2, Kind: "call_charge", AmountCents: -28, BalanceAfterCents: 1500, CallID: &uuid.UUID{1}, CreatedAt: now},
			{ID: 1, Kind: "purchase", AmountCents: 1528, BalanceAfterCents: 1528, TopUpID: &uuid.UUID{2}, CreatedAt: now},
		},
		Actions: []db.ListAdminActionsForTargetRow{
			{ID: 1, Action: "adjustment", TargetType: "user", TargetID: user.ID.String(), Reason: "Goodwill <y>", Details: []byte(`{"amount_cents": -250, "note": "<y>"}`),
				IdempotencyKey: &key, ActorEmail: "support<y>@example.com", CreatedAt: now},
		}}
	extraPageSamples["admin_user"] = pageData{Tab: "admin", Data: d,
		Form:   url.Values{"amount": {"<y>"}, "direction": {"debit"}, "reason": {"<y>"}, "access_reason": {"<y>"}},
		Errors: map[string]string{"form": "This form was already sent <y>.", "amount": "Enter an amount.", "direction": "Choose.", "reason": "Say why.", "access_reason": "Say why.", "access": "<y>"}}
}
