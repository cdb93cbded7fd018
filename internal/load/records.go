// Package load is `mobayilo load`: it starts the app (web and worker as
// their own processes, a Temporal dev server, a fresh database), drives it
// through its real HTTP endpoints as browsers, Twilio and Stripe would,
// with duplicated, shuffled, delayed and lost webhooks and, on request,
// crashes and restarts, then checks that every answered call was charged
// once at the right price and every paid top-up credited once.
package load

import "time"

// Call outcomes the tool plays.
const (
	OutcomeAnswered    = "answered"     // talks TalkSeconds, then hangs up
	OutcomeBusy        = "busy"         // number ending 0001
	OutcomeNoAnswer    = "no_answer"    // 0002
	OutcomeFailed      = "failed"       // 0003
	OutcomeAbandoned   = "abandoned"    // authorized, never connected to Twilio
	OutcomeRefused     = "refused"      // POST /calls refused it (balance, rules)
	OutcomeStartFailed = "start_failed" // POST /calls failed (the app was down)
	OutcomeNotDialled  = "not_dialled"  // the voice webhook refused or failed
)

// CallRecord is one call as the tool played it, and what it expects of the
// ledger.
type CallRecord struct {
	CallID      string // "" when POST /calls created none
	UserEmail   string
	Number      string
	Outcome     string
	TalkSeconds int64 // answered calls: the talk time simulated
	MaxSeconds  int64 // as authorized
	// ExpectedCents is the charge computed by the tool from the rate deck
	// and the talk time (0: no charge expected).
	ExpectedCents int64
	FinalDropped  bool      // the final status callback and Dial action were never sent
	FinalAt       time.Time // when the app first took a final callback
	// DebtOnPurpose: the run drained the wallet during this call (a billing
	// fault): its charge must still post in full, leaving a debt that
	// refuses the next call, until support credits the money back.
	DebtOnPurpose bool
	// BrowserHangUp: the browser told the app the call ended (POST
	// /calls/{id}/hangup at HungUpAt), its final callbacks lost; the slot
	// was seen free at SlotFreedAt (zero: not within hangUpWatch).
	BrowserHangUp         bool
	HungUpAt, SlotFreedAt time.Time
}

// Top-up outcomes the tool plays.
const (
	TopUpPaid        = "paid"         // paid, its webhooks delivered
	TopUpPaidLost    = "paid_lost"    // paid, every webhook lost: the workflow's timeout must find it
	TopUpDeclined    = "declined"     // declined, never paid: cancelled at the timeout
	TopUpStartFailed = "start_failed" // POST /credits/purchase failed
	TopUpAuto        = "auto"         // made by the app's auto top-up (-auto-topup), off-session with the saved card
)

// TopUpRecord is one top-up as the tool played it.
type TopUpRecord struct {
	TopUpID         string
	PaymentIntentID string
	UserEmail       string
	AmountCents     int64
	Outcome         string
	Paid            bool // money was taken: exactly one credit of AmountCents expected
}

// Problem is one way the books disagree with what the tool did.
type Problem struct {
	Kind    string `json:"kind"` // e.g. double_charge, missing_charge, wrong_amount, unexpected_charge, missing_credit, double_credit, wrong_credit, unexpected_credit, ledger, workflow_running, stuck
	ID      string `json:"id"`   // the call, top-up, account or workflow concerned
	Message string `json:"message"`
}
