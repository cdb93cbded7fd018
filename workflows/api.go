// Package workflows holds Mobayilo's deterministic workflow code. This file
// names everything other packages may refer to: workflow names and ID
// schemes, activity names, search attributes and payload types. The web
// layer and the worker import these names, never string literals.
package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/google/uuid"

	"go.temporal.io/sdk/temporal"

	"github.com/mobayilo/mobayilo/internal/rating"
)

// Search attributes operators filter on in the Temporal UI. Every one is a
// Keyword; every Temporal server the project starts registers them (the dev
// server by flag, a cluster by temporalx.RegisterSearchAttributes or the
// compose setup).
var (
	SearchAttrUserID             = temporal.NewSearchAttributeKeyKeyword("UserID")
	SearchAttrCallStatus         = temporal.NewSearchAttributeKeyKeyword("CallStatus")
	SearchAttrBillingState       = temporal.NewSearchAttributeKeyKeyword("BillingState")
	SearchAttrDestinationCountry = temporal.NewSearchAttributeKeyKeyword("DestinationCountry")
	SearchAttrTopUpStatus        = temporal.NewSearchAttributeKeyKeyword("TopUpStatus")
)

// SearchAttributeNames lists the custom search attributes, all Keyword, in
// the order they are registered.
func SearchAttributeNames() []string {
	return []string{
		SearchAttrUserID.GetName(),
		SearchAttrCallStatus.GetName(),
		SearchAttrBillingState.GetName(),
		SearchAttrDestinationCountry.GetName(),
		SearchAttrTopUpStatus.GetName(),
	}
}

// The ledger audit: a workflow, run daily by a Temporal Schedule the worker
// creates, that checks the books the way `mobayilo ledger verify` does and
// fails, visibly in the Temporal UI, when they do not balance.
const (
	LedgerAuditWorkflowName = "LedgerAudit"
	LedgerAuditScheduleID   = "ledger-audit-daily"
	LedgerAuditWorkflowID   = "ledger-audit"
	// LedgerAuditCron runs the audit at 03:17 UTC, off the hour.
	LedgerAuditCron = "17 3 * * *"

	ActivityVerifyLedger = "VerifyLedger"

	// ErrTypeLedgerUnbalanced is the application error type of a failed audit.
	ErrTypeLedgerUnbalanced = "LedgerUnbalanced"
)

// LedgerAuditResult is what VerifyLedger returns and LedgerAudit reports.
type LedgerAuditResult struct {
	OK            bool
	Problems      []string         // one sentence per problem, naming the account
	WalletsCents  int64            // sum of the wallets' cached balances
	HouseBalances map[string]int64 // derived by SUM, never cached
}

// The pricing sync: a workflow, run daily by a Temporal Schedule the worker
// creates (unless the carrier simulator stands in for Twilio), that reads
// Twilio's voice prices for every country we sell and reprices the deck so
// that nothing is sold at a loss.
const (
	PricingSyncWorkflowName = "PricingSync"
	PricingSyncScheduleID   = "pricing-sync-daily"
	PricingSyncWorkflowID   = "pricing-sync"
	// PricingSyncCron runs the sync at 04:41 UTC.
	PricingSyncCron = "41 4 * * *"

	ActivityListPricedCountries = "ListPricedCountries"
	ActivityFetchCarrierCosts   = "FetchCarrierCosts"
	ActivityApplyCarrierCosts   = "ApplyCarrierCosts"

	// Application error types of FetchCarrierCosts that no retry fixes.
	ErrTypeCarrierUnknownCountry = "CarrierUnknownCountry"
	ErrTypeCarrierUnauthorized   = "CarrierUnauthorized"
)

// PricingCountryResult is what the sync did to one country's rates.
type PricingCountryResult struct {
	Country                             string
	Changed, Added, Disabled, Unchanged int
	Losses                              []string // rates whose cost had risen above our price, one sentence each
	Error                               string   // why the country was skipped
}

// PricingSyncResult is the whole run.
type PricingSyncResult struct {
	Countries []PricingCountryResult
	Failed    int
}

// The call workflow: one per call attempt, ID call-<call id>.
const (
	CallWorkflowName = "Call"

	// UpdateAuthorize authorizes the call (run with update-with-start by
	// POST /calls); it returns CallTerms or a CallRefused error.
	UpdateAuthorize = "authorize"
	// SignalDialed: the voice webhook claimed the call (DialedSignal).
	SignalDialed = "dialed"
	// SignalTwilioStatus: a Twilio status or Dial action callback (StatusSignal).
	SignalTwilioStatus = "twilio-status"
	// SignalRetryBilling: support asks a stuck call to try billing again.
	SignalRetryBilling = "retry-billing"
	// SignalWaiveBilling: support settles a stuck call as not billable,
	// with a reason (WaiveSignal); nothing is posted.
	SignalWaiveBilling = "waive-billing"
	// QueryState returns CallState.
	QueryState = "state"

	ActivityAuthorizeCall       = "AuthorizeCall"
	ActivityCancelUnclaimedCall = "CancelUnclaimedCall"
	ActivityAbandonCall         = "AbandonCall"
	ActivityRecordCallStatus    = "RecordCallStatus"
	ActivityChargeCall          = "ChargeCall"
	ActivityMarkCallBilling     = "MarkCallBilling"
	ActivityFetchCarrierCall    = "FetchCarrierCall"
	ActivityFindDialledLeg      = "FindDialledLeg"

	// ErrTypeCallRefused: authorization refused the call (details: CallRefusal).
	ErrTypeCallRefused = "CallRefused"
	// RefusalAuthorizationTimeout: a CallRefusal's reason when the call's
	// web request stopped waiting (CallInput.AuthorizeBy) before the
	// authorization could be committed; the browser hears "unavailable".
	RefusalAuthorizationTimeout = "authorization_timeout"
	// ErrTypeBillingFailed: a charge no retry can post (e.g. the balance fell
	// below the cost through a refund); the call waits, stuck, for support.
	ErrTypeBillingFailed = "BillingFailed"
)

// Ending a call from what the browser and Postgres know (issue 15).
const (
	// SignalBrowserEnded: the signed-in owner's browser says the call ended
	// (POST /calls/{id}/hangup: the Voice SDK's disconnect, or a connect
	// that failed). An authorized call not yet claimed is cancelled at once;
	// a claimed one makes the workflow ask the carrier's REST API now
	// instead of waiting max_seconds + ring + grace for a lost final
	// callback (BrowserEndedSignal).
	SignalBrowserEnded = "browser-ended"

	// ActivityLoadCallSids reads the CallSids the voice webhook's claim and
	// the callbacks stored on the calls row (CallSids).
	ActivityLoadCallSids = "LoadCallSids"
	// ActivityHangUpCarrierCall completes a call at the carrier (Twilio's
	// Calls.Update Status=completed): a call still in progress long past
	// its max_seconds (HangUpRequest).
	ActivityHangUpCarrierCall = "HangUpCarrierCall"
)

// BrowserEndedSignal says the owner's browser reports the call ended.
type BrowserEndedSignal struct {
	Reason string // what the browser said (disconnect, error, cancel), for the log
}

// CallSids are the carrier's ids of a call's two legs, as stored.
type CallSids struct {
	ParentCallSid, ChildCallSid string
}

// HangUpRequest asks HangUpCarrierCall to end a call at the carrier.
type HangUpRequest struct {
	CallID                      string
	ParentCallSid, ChildCallSid string
}

// Call statuses, as stored in calls.status and the CallStatus search attribute.
const (
	// StatusCreated: the calls row POST /calls inserts, before the call
	// workflow authorizes it (the workflow's own state starts at
	// StatusAuthorizing and is never "created").
	StatusCreated     = "created"
	StatusAuthorizing = "authorizing"
	StatusAuthorized  = "authorized"
	StatusDialing     = "dialing"
	StatusRinging     = "ringing"
	StatusInProgress  = "in_progress"
	StatusCompleted   = "completed"
	StatusBusy        = "busy"
	StatusNoAnswer    = "no_answer"
	StatusFailed      = "failed"
	StatusCanceled    = "canceled"
	StatusRefused     = "refused"
)

// callStatuses lists the call statuses in rank order.
var callStatuses = []string{StatusCreated, StatusAuthorizing, StatusAuthorized, StatusDialing, StatusRinging, StatusInProgress,
	StatusCompleted, StatusBusy, StatusNoAnswer, StatusFailed, StatusCanceled, StatusRefused}

// statusRank orders call statuses; a status of lower rank than the current
// one is an out-of-order regression and changes nothing. It is the one
// rank: SetCallStatus moves a calls row only from StatusesBelow(status).
var statusRank = map[string]int{
	StatusCreated: 0, StatusAuthorizing: 0, StatusAuthorized: 1, StatusDialing: 2, StatusRinging: 3, StatusInProgress: 4,
	StatusCompleted: 5, StatusBusy: 5, StatusNoAnswer: 5, StatusFailed: 5, StatusCanceled: 5, StatusRefused: 5,
}

// IsFinal reports whether a call status is final.
func IsFinal(status string) bool { return statusRank[status] == 5 }

// StatusesBelow lists the stored call statuses of lower rank than status:
// those a calls row may move from to status (SetCallStatus's parameter).
// StatusAuthorizing is never stored and is left out.
func StatusesBelow(status string) []string {
	var out []string
	for _, s := range callStatuses {
		if s != StatusAuthorizing && statusRank[s] < statusRank[status] {
			out = append(out, s)
		}
	}
	return out
}

// Billing states, as stored in calls.billing_state and the BillingState
// search attribute.
const (
	BillingPending     = "pending"
	BillingCharged     = "charged"
	BillingNotBillable = "not_billable"
	BillingStuck       = "stuck"
)

// Refusal codes: a CallRefusal's Reason, stored as the refused call's
// end_reason and sent to the browser as the error code. Those rating's
// rules give are rating's (it cannot import this package); the names here
// are the ones the rest of the code uses.
const (
	RefusalInsufficientBalance = rating.RefusalInsufficientBalance
	RefusalNegativeBalance     = rating.RefusalNegativeBalance
	RefusalBlockedPrefix       = rating.RefusalBlockedPrefix
	RefusalCountryNotAllowed   = rating.RefusalCountryNotAllowed
	RefusalNoRate              = rating.RefusalNoRate
	RefusalDestinationDisabled = rating.RefusalDestinationDisabled
	RefusalDailySpend          = rating.RefusalDailySpend
	RefusalDailyCalls          = rating.RefusalDailyCalls
	// RefusalAccountDisabled: the caller's account is disabled.
	RefusalAccountDisabled = "account_disabled"
	// RefusalInvalidNumber: the stored number no longer parses.
	RefusalInvalidNumber = "invalid"
	// RefusalNotPending: the call was decided before (abandoned, failed)
	// and cannot be authorized now.
	RefusalNotPending = "not_pending"
)

// Application error types every activity may return, besides each
// workflow's own (ErrTypeCallRefused, ErrTypePaymentRefused, ...).
const (
	// ErrTypeBadInput: an activity's input does not parse (a bad id); no
	// retry fixes it.
	ErrTypeBadInput = "BadInput"
	// ErrTypeNoCarrier: no carrier REST API (or none that can hang up) is
	// configured.
	ErrTypeNoCarrier = "NoCarrier"
	// ErrTypeCarrierCallNotFound: the carrier does not know the CallSid.
	ErrTypeCarrierCallNotFound = "CarrierCallNotFound"
)

// statusLabels say call statuses in words, for people; a status not here
// is shown as stored.
var statusLabels = map[string]string{
	StatusAuthorized: "Connecting", StatusDialing: "Dialling", StatusRinging: "Ringing", StatusInProgress: "In call",
	StatusCompleted: "Completed", StatusBusy: "Busy", StatusNoAnswer: "No answer", StatusFailed: "Failed",
	StatusCanceled: "Canceled", StatusRefused: "Refused",
}

// StatusLabel says a call status in words.
func StatusLabel(status string) string {
	if l, ok := statusLabels[status]; ok {
		return l
	}
	return status
}

// FromTwilio maps a Twilio call status word (a status callback's
// CallStatus, a Dial action's DialCallStatus) to ours, as the call
// workflow does; known is false for a word it ignores.
func FromTwilio(twilioStatus string) (status string, known bool) { return fromTwilio(twilioStatus) }

// CallWorkflowID is the workflow ID of a call.
func CallWorkflowID(callID string) string { return "call-" + callID }

// CallInput starts a call workflow.
type CallInput struct {
	CallID         string
	UserID         string
	AccountID      string
	PhoneNumber    string // E.164
	Country        string // of the number
	ClientIdentity string // the Twilio Client identity the call is authorized for
	// Timing overrides the defaults (zero values keep them): shorter
	// windows for load runs, never needed in production.
	Timing CallTiming
	// AuthorizeBy is when the web request that started the call stops
	// waiting (and tells the browser 503): an authorization is never
	// committed after it. Zero (workflows started before it existed): no
	// bound but the activity's own timeout.
	AuthorizeBy time.Time `json:",omitempty"`
	// Path is the code path the starter chose (PathCurrent); zero for
	// workflows started before it, which ask workflow.GetVersion.
	Path int `json:",omitempty"`
}

// CallTiming tunes a call's timers.
type CallTiming struct {
	AuthorizationWindow time.Duration // default AuthorizationWindow
	ReconcileGrace      time.Duration // default ReconcileGrace
	RingAllowance       time.Duration // default RingAllowance
}

// Ring is the ring allowance in effect.
func (t CallTiming) Ring() time.Duration {
	if t.RingAllowance > 0 {
		return t.RingAllowance
	}
	return RingAllowance
}

// Window is the authorization window in effect.
func (t CallTiming) Window() time.Duration {
	if t.AuthorizationWindow > 0 {
		return t.AuthorizationWindow
	}
	return AuthorizationWindow
}

// Grace is the reconcile grace in effect.
func (t CallTiming) Grace() time.Duration {
	if t.ReconcileGrace > 0 {
		return t.ReconcileGrace
	}
	return ReconcileGrace
}

// CallTerms are what authorization locked onto the call.
type CallTerms struct {
	RatePrefix          string
	Description         string
	PerMinuteMicros     int64
	ConnectionFeeMicros int64
	MaxSeconds          int64
	AuthorizedUntil     time.Time
	// CeilingSeconds (issue 21): the carrier's timeLimit, fixed when the
	// Dial starts, above MaxSeconds by a bounded headroom so that a top-up
	// during the call can extend it; the workflow itself ends the call at
	// what the balance pays for (MaxSeconds, or what a credit raised it
	// to). Zero (authorized before it): the carrier's timeLimit is
	// MaxSeconds, and ends the call there.
	CeilingSeconds int64 `json:",omitempty"`
}

// LowBalanceSeconds: a call whose balance covers less talk time than this,
// and which a top-up could lengthen, is flagged before dialling (POST
// /calls' low_balance) so that the caller can top up first.
const LowBalanceSeconds = 5 * 60

// LowBalance reports whether the balance, not a daily limit or the per-call
// ceiling, holds the call under LowBalanceSeconds: a top-up would give it
// more time.
func (t CallTerms) LowBalance() bool {
	return t.MaxSeconds < LowBalanceSeconds && t.CeilingSeconds > t.MaxSeconds
}

// Extendable reports whether the carrier lets the call run past
// MaxSeconds (up to CeilingSeconds), so that the workflow ends it at what
// the balance pays for and a credit can extend it.
func (t CallTerms) Extendable() bool { return t.CeilingSeconds > t.MaxSeconds }

// CallRefusal is the detail of a CallRefused error.
type CallRefusal struct {
	Reason      string
	Message     string
	NeededCents int64
}

// DialedSignal says the voice webhook claimed the call.
type DialedSignal struct {
	DedupKey      string
	ParentCallSid string
}

// StatusSignal is one Twilio callback about the dialled leg, or the Dial
// verb's action callback (FromDialAction).
type StatusSignal struct {
	DedupKey        string
	CallSid         string // the dialled (child) leg, or the parent for a Dial action
	ParentCallSid   string
	Status          string // Twilio's: initiated, ringing, in-progress, completed, busy, no-answer, failed, canceled
	SequenceNumber  int
	DurationSeconds int64 // CallDuration (DialCallDuration), when Twilio gave one
	FromDialAction  bool
	DialCallSid     string // the dialled leg, named by the Dial action
	// ReceivedAt is when the web role received the callback (zero in
	// histories from before it was sent): the start of the billing lag.
	ReceivedAt time.Time `json:",omitzero"`
	// Trace is the W3C trace context of the request that carried it (none
	// when tracing is off): the charge it settles continues that trace.
	Trace map[string]string `json:",omitempty"`
}

// CarrierCall is a call as the carrier's REST API reports it.
type CarrierCall struct {
	Sid             string
	Status          string // Twilio's status words
	DurationSeconds int64
	Found           bool // for FindDialledLeg: false when no leg was ever placed
}

// RecordStatus asks RecordCallStatus to store a transition.
type RecordStatus struct {
	CallID, UserID string
	Status         string
	ChildCallSid   string
}

// ChargeRequest asks ChargeCall to post a call's charge.
type ChargeRequest struct {
	CallID, AccountID string
	DurationSeconds   int64
	CostCents         int64
	CarrierStatus     string
	// Final, when set, is the call's final status, recorded in the same
	// transaction as the charge (the fast path: one activity from the
	// final callback to the committed charge).
	Final *RecordStatus `json:",omitempty"`
	// FinalReceivedAt is when the final callback arrived (zero when the
	// final status came from the carrier's API), for the billing lag.
	FinalReceivedAt time.Time `json:",omitzero"`
}

// BillingMark records a billing state that is not a charge.
type BillingMark struct {
	CallID          string
	State           string
	DurationSeconds int64
	CarrierStatus   string
	Reason          string
	// Waived: support's reason for settling the call as not billable.
	Waived string `json:",omitempty"`
	// CostCents: what the charge a stuck call waits on would be, for
	// support's pages (0: none or not known).
	CostCents int64 `json:",omitempty"`
	// Final and FinalReceivedAt: as ChargeRequest's.
	Final           *RecordStatus `json:",omitempty"`
	FinalReceivedAt time.Time     `json:",omitzero"`
}

// CallState is the whole state of a call workflow (the state query).
type CallState struct {
	CallID          string
	Status          string
	BillingState    string
	Terms           *CallTerms
	Refusal         *CallRefusal
	ParentCallSid   string
	ChildCallSid    string
	DurationSeconds int64
	CostCents       int64
	LastError       string
	Reconciled      bool // billed from the carrier's REST API, not a callback
	SignalsSeen     int
	// BillingAttempts counts charges tried (a retry-billing adds one).
	BillingAttempts int
	// BrowserEnded: the owner's browser said the call ended (browser-ended).
	BrowserEnded bool
	// HungUp: the workflow ended the call at the carrier (still in progress
	// long past max_seconds).
	HungUp bool
	// Waived: support waived the charge of this stuck call (waive-billing).
	Waived *WaiveSignal `json:",omitempty"`
	// CutToSeconds: the talk time a balance change moved the call's limit
	// to (nil: none, the authorized max_seconds stand): below max_seconds
	// after a money loss, above it (up to Terms.CeilingSeconds) after a
	// top-up during the call; CutReason: what moved the balance. CutEnded:
	// the workflow hung the call up at its limit.
	CutToSeconds *int64 `json:",omitempty"`
	CutReason    string `json:",omitempty"`
	CutEnded     bool   `json:",omitempty"`
}

// WaiveSignal is support's waive-billing: the call, stuck, is settled as
// not billable. Attempts is the BillingAttempts support saw when it chose
// to waive; a waiver sent for another attempt (the call was retried since,
// or is not stuck yet) is ignored, so it can never settle a call support
// did not look at. By is the admin's user id (no email in history).
type WaiveSignal struct {
	Reason   string
	By       string
	Attempts int
}

// A money loss during a call (issue 24): a refund, a dispute or a staff
// debit that leaves the balance short of what the call in progress may
// still cost shortens the call to what the balance covers, or ends it.
const (
	// SignalBalanceChanged: the caller's balance moved during the call by
	// something other than its own charge (BalanceChangedSignal). Sent by
	// whatever posted it (the top-up activities, the console's adjustment);
	// the workflow reads the balance itself, so a signal sent twice or
	// late changes nothing.
	SignalBalanceChanged = "balance-changed"

	// ActivityCallAllowance reads the balance and the talk time it covers
	// at the call's rate (AllowanceRequest → Allowance).
	ActivityCallAllowance = "CallAllowance"
	// ActivityLimitCall stores the talk time the call is cut to (CallLimit),
	// which the caller's in-call bar shows.
	ActivityLimitCall = "LimitCall"
)

// BalanceChangedSignal says the caller's balance moved during the call.
type BalanceChangedSignal struct {
	// Why, for the log and the caller ("refund", "dispute", "adjustment",
	// "top-up").
	Reason string
}

// AllowanceRequest asks CallAllowance what the balance covers now.
type AllowanceRequest struct {
	CallID, AccountID   string
	PerMinuteMicros     int64
	ConnectionFeeMicros int64
	MaxSeconds          int64 // what authorization allowed: the most it can be
}

// Allowance is the balance now and the talk time, in all, it pays for at
// the call's rate (at most the authorized max_seconds): nothing of the
// call in progress is charged until it ends, so it is the call's whole
// length, not what is left of it.
type Allowance struct {
	BalanceCents int64
	Seconds      int64
}

// CallLimit asks LimitCall to store a cut (Seconds: the talk time the call
// ends at; Reason: what lowered the balance), or to clear it (Clear: a
// credit restored what authorization allowed).
type CallLimit struct {
	CallID  string
	Seconds int64
	Reason  string
	Clear   bool `json:",omitempty"`
}

// The top-up workflow: one per purchase of a package, ID topup-<top-up id>.
const (
	TopUpWorkflowName = "TopUp"

	// UpdateCreatePayment creates the top-up's PaymentIntent (run with
	// update-with-start by POST /credits/purchase); it returns PaymentCreated.
	UpdateCreatePayment = "create-payment"
	// SignalStripeEvent: a Stripe webhook event about the top-up (StripeSignal).
	SignalStripeEvent = "stripe-event"

	ActivityLoadTopUp            = "LoadTopUp"
	ActivityCreatePayment        = "CreatePayment"
	ActivityFetchPayment         = "FetchPayment"
	ActivityCancelPayment        = "CancelPayment"
	ActivityRecordPaymentFailure = "RecordPaymentFailure"
	ActivityCreditTopUp          = "CreditTopUp"
	ActivityCancelTopUp          = "CancelTopUp"
	ActivityReverseTopUp         = "ReverseTopUp"
	// ActivityMarkTopUpStuck records a top-up Stripe did not confirm a
	// credit or reversal for (TopUpStuck), for support.
	ActivityMarkTopUpStuck = "MarkTopUpStuck"

	// ErrTypePaymentRefused: the processor refused a request for good (a bad
	// key, say); the top-up cannot go on.
	ErrTypePaymentRefused = "PaymentRefused"
	// ErrTypeTopUpMismatch: what Stripe reports does not confirm what the
	// workflow was asked to post (a payment not succeeded, another amount,
	// currency, mode or metadata); nothing is posted and the top-up is
	// marked stuck for support (BillingState=stuck), still listening for
	// Stripe's events. Workflows started before that change fail instead.
	ErrTypeTopUpMismatch = "TopUpMismatch"
)

// Top-up statuses, as stored in topups.status and the TopUpStatus search
// attribute.
const (
	TopUpCreated    = "created"
	TopUpProcessing = "processing" // awaiting the payment
	TopUpFailed     = "failed"     // the last attempt was declined; the user may try again
	TopUpSucceeded  = "succeeded"  // credited
	TopUpCanceled   = "canceled"
	TopUpRefunded   = "refunded" // wholly refunded (a partial refund leaves it succeeded)
	TopUpDisputed   = "disputed"
)

// IsSettled reports whether a top-up status is settled: the payment has an
// outcome no webhook can undo by itself (credited, cancelled, refunded or
// disputed). A top-up not settled still awaits its payment.
func IsSettled(topUpStatus string) bool {
	switch topUpStatus {
	case TopUpSucceeded, TopUpCanceled, TopUpRefunded, TopUpDisputed:
		return true
	}
	return false
}

// topUpLabels say top-up statuses in words, for people; a status not here
// is shown as stored.
var topUpLabels = map[string]string{
	TopUpCreated: "Awaiting payment", TopUpProcessing: "Awaiting payment", TopUpFailed: "Declined", TopUpSucceeded: "Credited",
	TopUpCanceled: "Cancelled", TopUpRefunded: "Refunded", TopUpDisputed: "Disputed",
}

// TopUpLabel says a top-up status in words.
func TopUpLabel(status string) string {
	if l, ok := topUpLabels[status]; ok {
		return l
	}
	return status
}

// Stripe event types the top-up workflow acts on; the webhook acknowledges
// every other type and does nothing.
const (
	EventPaymentSucceeded = "payment_intent.succeeded"
	EventPaymentFailed    = "payment_intent.payment_failed"
	EventPaymentCanceled  = "payment_intent.canceled"
	EventChargeRefunded   = "charge.refunded"
	EventDisputeCreated   = "charge.dispute.created"

	// The rest of the refund and dispute lifecycle: each makes the top-up
	// read the refunds or the dispute from Stripe and post what changed.
	EventRefundUpdated          = "charge.refund.updated"
	EventDisputeUpdated         = "charge.dispute.updated"
	EventDisputeClosed          = "charge.dispute.closed"
	EventDisputeFundsWithdrawn  = "charge.dispute.funds_withdrawn"
	EventDisputeFundsReinstated = "charge.dispute.funds_reinstated"
)

// StripeEventTypes lists every Stripe event type the webhook endpoint must
// be sent (README lists them for the endpoint's set-up).
func StripeEventTypes() []string {
	return []string{EventPaymentSucceeded, EventPaymentFailed, EventPaymentCanceled, EventChargeRefunded, EventRefundUpdated,
		EventDisputeCreated, EventDisputeUpdated, EventDisputeClosed, EventDisputeFundsWithdrawn, EventDisputeFundsReinstated}
}

// TopUpWorkflowID is the workflow ID of a top-up.
func TopUpWorkflowID(topUpID string) string { return "topup-" + topUpID }

// TopUpInput starts a top-up workflow.
type TopUpInput struct {
	TopUpID     string
	UserID      string
	AccountID   string
	AmountCents int64
	// PaymentTimeout: how long to wait for the payment before asking
	// Stripe; 0 is an hour.
	PaymentTimeout time.Duration
	// Resumed: started by a webhook after the workflow had finished (a
	// refund or a dispute weeks later); the state is read from Postgres.
	Resumed bool
	// Path: as CallInput.Path.
	Path int `json:",omitempty"`
}

// PaymentCreated is the create-payment update's result. The client secret is
// not in it: it is a credential, and update results are kept in workflow
// history; the payment page reads it from Stripe.
type PaymentCreated struct {
	PaymentIntentID string
	Status          string
	// Outcome of a PaymentIntent the server confirmed (a saved card:
	// payments.Outcome*; empty for one the Payment Element pays), and
	// Stripe's codes when the card was refused. Nothing is credited on
	// it: the credit waits for payment_intent.succeeded as ever.
	Outcome                  string
	FailureCode, DeclineCode string
}

// StripeSignal is one Stripe event about a top-up.
type StripeSignal struct {
	EventID         string // evt_…: the dedup key
	Type            string
	PaymentIntentID string
	ChargeID        string
	DisputeID       string
	AmountCents     int64 // the PaymentIntent's amount, or the dispute's
	Currency        string
	// FailureCode is last_payment_error's code (card_declined, ...) and
	// DeclineCode the issuer's reason (generic_decline, ...); signals from
	// before DeclineCode existed carry the decline code in FailureCode.
	FailureCode    string
	DeclineCode    string `json:",omitempty"`
	FailureMessage string
	// ReceivedAt is when the web role received the event (zero in
	// histories from before it was sent): the start of the credit lag.
	ReceivedAt time.Time `json:",omitzero"`
	// Trace: as StatusSignal's; the credit continues the event's trace.
	Trace map[string]string `json:",omitempty"`
}

// PaymentState is a PaymentIntent as the processor reports it.
type PaymentState struct {
	PaymentIntentID string
	Status          string // Stripe's words
	AmountCents     int64
	Currency        string
	FailureCode     string
	FailureMessage  string
}

// TopUpCredit asks CreditTopUp to post a paid top-up's credit.
type TopUpCredit struct {
	TopUpID, AccountID, PaymentIntentID string
	AmountCents                         int64 // as Stripe reported it; must match the top-up's
	Currency                            string
	// ConfirmedAt is when Stripe's confirming webhook arrived (zero when
	// the workflow asked Stripe itself), for the credit lag.
	ConfirmedAt time.Time `json:",omitzero"`
}

// TopUpReversal asks ReverseTopUp to post a refund or a dispute.
type TopUpReversal struct {
	TopUpID, AccountID, PaymentIntentID string
	Kind                                string // "refund" or "dispute"
	DisputeID                           string
	AmountCents                         int64 // the dispute's amount as the event said; the dispute itself is read from Stripe
}

// TopUpStuck records why a top-up waits for support.
type TopUpStuck struct {
	TopUpID, Reason string
}

// TopUpFailure records why a payment failed or a top-up was cancelled.
// A failed attempt (RecordPaymentFailure) also names its Stripe event, the
// issuer's decline code and when it arrived, for payment_failures.
type TopUpFailure struct {
	TopUpID, Code, Message string
	EventID                string    `json:",omitempty"`
	DeclineCode            string    `json:",omitempty"`
	At                     time.Time `json:",omitzero"`
}

// TopUpState is the whole state of a top-up workflow (the state query).
type TopUpState struct {
	TopUpID         string
	Status          string
	PaymentIntentID string
	AmountCents     int64
	RefundedCents   int64
	DisputedCents   int64
	FailureCode     string
	FailureMessage  string
	Reconciled      bool // credited or cancelled after asking Stripe, not from a webhook
	EventsSeen      int
	LastError       string
	// Stuck says why Stripe did not confirm what the workflow was asked to
	// post; support must look ("" when nothing is stuck).
	Stuck string
}

// TopUpRecord is a top-up as stored, for a resumed workflow.
type TopUpRecord struct {
	UserID, AccountID, Status, PaymentIntentID string
	AmountCents, RefundedCents, DisputedCents  int64
}

// Housekeeping: a workflow, run daily by a Temporal Schedule the worker
// creates, that prunes rows kept only for a while: sign-in failure counts,
// password-reset tokens, expired sessions and delivered webhook events older
// than the retention period (DATA_RETENTION, the worker's setting).
const (
	HousekeepingWorkflowName = "Housekeeping"
	HousekeepingScheduleID   = "housekeeping-daily"
	HousekeepingWorkflowID   = "housekeeping"
	// HousekeepingCron runs at 02:29 UTC, off the hour and before the audit.
	HousekeepingCron = "29 2 * * *"

	ActivityPruneExpiredData = "PruneExpiredData"
)

// HousekeepingResult counts the rows PruneExpiredData deleted.
type HousekeepingResult struct {
	SignInFailures int64
	PasswordResets int64
	Sessions       int64
	WebhookEvents  int64
	// EmailConfirmations: sign-up confirmation links expired before the cutoff.
	EmailConfirmations int64
}

// The automatic top-up (issue 21): "when my balance falls below $X, add
// $Y", paid off-session with the saved card. One long-running workflow per
// user, ID autotopup-<user id>, started by the settings page when it is
// turned on and by signal-with-start from a posting that leaves the
// balance below the threshold; it ends when auto top-up is off.
const (
	AutoTopUpWorkflowName = "AutoTopUp"

	// SignalAutoTopUpCheck asks the workflow to look at the balance now
	// (AutoTopUpCheck). Every signal that arrives before it looks is
	// answered by that one look: three postings that cross the threshold
	// at once make one top-up.
	SignalAutoTopUpCheck = "check"

	// ActivityPlanAutoTopUp decides, in one Postgres transaction under
	// the settings row's lock, whether to top up now (AutoTopUpPlan); a
	// top-up it decides on is created there, with the next sequence
	// number's id.
	ActivityPlanAutoTopUp = "PlanAutoTopUp"
	// ActivityStartAutoTopUp starts the top-up's TopUp workflow as POST
	// /credits/purchase does (update-with-start, create-payment), with the
	// saved card, off-session; a retry attaches to the same one.
	ActivityStartAutoTopUp = "StartAutoTopUp"
	// ActivityAwaitAutoTopUp returns the top-up's outcome
	// (AutoTopUpOutcome); while there is none it fails with
	// ErrTypeAutoTopUpPending and its retry policy is the polling.
	ActivityAwaitAutoTopUp = "AwaitAutoTopUp"
	// ActivityTurnAutoTopUpOff turns it off and raises the banner
	// (AutoTopUpTurnOff).
	ActivityTurnAutoTopUpOff = "TurnAutoTopUpOff"
	// ActivityEmailAutoTopUpOff sends the one email saying why.
	ActivityEmailAutoTopUpOff = "EmailAutoTopUpOff"

	// ErrTypeAutoTopUpPending: the top-up has no outcome yet.
	ErrTypeAutoTopUpPending = "AutoTopUpPending"
)

// What a plan says to do.
const (
	AutoTopUpOff  = "off"  // auto top-up is off: the workflow ends
	AutoTopUpNone = "none" // nothing to do (balance above the threshold, the monthly cap)
	AutoTopUpPay  = "pay"  // top up (or await the one in flight)
	// AutoTopUpRefuse: it cannot be paid (no saved card): turn it off and
	// say so.
	AutoTopUpRefuse = "refuse"
)

// Outcomes of an automatic top-up.
const (
	AutoTopUpCredited       = "credited"
	AutoTopUpDeclined       = "declined"
	AutoTopUpRequiresAction = "requires_action"
	AutoTopUpCanceled       = "canceled"
)

// AutoTopUpWorkflowID is the workflow ID of a user's auto top-up.
func AutoTopUpWorkflowID(userID string) string { return "autotopup-" + userID }

// autoTopUpIDs is the name space of automatic top-ups' ids.
var autoTopUpIDs = uuid.MustParse("5b0c6a51-3f7e-4b8e-9a55-1d4e0b7a2c19")

// AutoTopUpTopUpID is the id of a user's seq-th automatic top-up: derived,
// so a retried start names the same top-up (and Stripe's idempotency key,
// the top-up id, the same payment).
func AutoTopUpTopUpID(userID string, seq int) string {
	return uuid.NewSHA1(autoTopUpIDs, []byte(userID+":"+strconv.Itoa(seq))).String()
}

// AutoTopUpInput starts (or continues) a user's auto top-up workflow.
type AutoTopUpInput struct {
	UserID string
	// Check: look at once (a check arrived in the run before, not yet
	// answered).
	Check bool `json:",omitempty"`
	// Recheck overrides AutoTopUpRecheck (tests).
	Recheck time.Duration `json:",omitempty"`
}

// AutoTopUpCheck is one check-signal: why it was sent, for the log.
type AutoTopUpCheck struct {
	Reason string
}

// AutoTopUpPlan is what PlanAutoTopUp decided.
type AutoTopUpPlan struct {
	Action string
	// Why, in words, for the log and the state query.
	Why string
	// For AutoTopUpPay: the top-up to start or await.
	TopUp *TopUpInput `json:",omitempty"`
}

// AutoTopUpOutcome is what became of an automatic top-up.
type AutoTopUpOutcome struct {
	Outcome     string
	FailureCode string `json:",omitempty"`
	DeclineCode string `json:",omitempty"`
}

// AutoTopUpTurnOff asks TurnAutoTopUpOff to turn it off: the reason is shown
// to the person (banner, email).
type AutoTopUpTurnOff struct {
	UserID, TopUpID, Reason string
}

// AutoTopUpState is the workflow's state (the state query).
type AutoTopUpState struct {
	UserID      string
	Looks       int // in this run
	LastAction  string
	LastWhy     string
	LastTopUpID string
	LastOutcome string
	Off         bool
}

// The caller ID workflow (issue 20, item 1): one run per verification
// attempt of a person's own number, ID callerid-<user>-<number>. It asks
// Twilio to verify the number (Twilio calls it; the person types the code
// the Settings page shows), waits for Twilio's signed validation callback
// through the webhook inbox, or for the timeout, and records the outcome on
// the caller_ids row. A retry from Settings is a new run with the next
// attempt number.
const (
	CallerIDWorkflowName = "CallerID"

	// SignalCallerIDResult: Twilio's validation callback (CallerIDResult),
	// or the person removing the number meanwhile (CallerIDCanceled).
	SignalCallerIDResult = "callerid-result"

	ActivityRequestCallerIDValidation = "RequestCallerIDValidation"
	ActivityFinishCallerID            = "FinishCallerID"

	// ErrTypeCallerIDRefused: Twilio refused the validation request (an
	// invalid number, one already verified), or the attempt's row is gone;
	// no retry changes it. The message is for the person.
	ErrTypeCallerIDRefused = "CallerIDRefused"

	// DefaultCallerIDTimeout: how long an attempt waits for the code to be
	// typed (CallerIDInput.Timeout overrides it).
	DefaultCallerIDTimeout = 10 * time.Minute
)

// Caller ID statuses (caller_ids.status).
const (
	CallerIDPending  = "pending"
	CallerIDVerified = "verified"
	CallerIDFailed   = "failed"
	CallerIDExpired  = "expired"
	// CallerIDRemoved: the person removed the number before the attempt
	// ended (a workflow outcome; no row keeps it).
	CallerIDRemoved = "removed"
)

// Twilio's VerificationStatus words, and ours for a removal.
const (
	VerificationSuccess = "success"
	VerificationFailed  = "failed"
	CallerIDCanceled    = "canceled"
)

// CallerIDWorkflowID is the workflow ID of a person's number's verification
// (and removal): callerid-<user>-<tag>, the tag 16 hex digits of a SHA-256
// of the user and the number, so the ID does not show the number (an
// account's deletion deletes these executions, found by the prefix). Runs
// started before the tag (callerid-<user>-<number>) share the prefix; one
// in flight at the change can no longer be signalled, and times out for
// the person to try again.
func CallerIDWorkflowID(userID, e164 string) string {
	sum := sha256.Sum256([]byte(userID + "\x00" + e164))
	return CallerIDWorkflowIDPrefix(userID) + hex.EncodeToString(sum[:8])
}

// CallerIDWorkflowIDPrefix starts every caller-ID workflow ID of a user.
func CallerIDWorkflowIDPrefix(userID string) string { return "callerid-" + userID + "-" }

// CallerIDInput starts one attempt.
type CallerIDInput struct {
	UserID, E164 string
	Attempt      int32
	// StatusCallback is where Twilio posts the result: our signed webhook,
	// naming the user, the number and the attempt.
	StatusCallback string
	Timeout        time.Duration // 0: DefaultCallerIDTimeout
}

// CallerIDRequested is what the validation request gave the workflow: the
// verification call. The code is stored for the page, never returned here.
type CallerIDRequested struct {
	CallSid string
}

// CallerIDResult is Twilio's validation callback, or a removal.
type CallerIDResult struct {
	DedupKey            string
	Attempt             int32
	CallSid             string
	VerificationStatus  string // success, failed, or canceled (removed)
	OutgoingCallerIDSid string
}

// FinishCallerIDInput records an attempt's outcome.
type FinishCallerIDInput struct {
	UserID, E164        string
	Attempt             int32
	Status              string // verified, failed or expired
	Reason              string // for the person, when not verified
	OutgoingCallerIDSid string
}

// CallerIDState is the attempt's outcome (and QueryState's answer).
type CallerIDState struct {
	Status string
	Reason string
}

// Reasons shown to the person.
const (
	ReasonCodeNotEntered = "The code was not entered, or not correctly, on the call. Try again."
	ReasonTimedOut       = "No code was entered in time. Try again."
	ReasonCarrierDown    = "We could not reach the phone network. Try again in a minute."
)

// Removing a verified number: the web layer deletes the row (the number is
// no longer our callerId from then on) and starts CallerIDRemoval, under
// the number's workflow ID, to delete the OutgoingCallerId at Twilio with
// the worker's retries, as every other carrier request is made.
const (
	CallerIDRemovalWorkflowName = "CallerIDRemoval"
	ActivityDeleteCallerID      = "DeleteCallerID"
)

// CallerIDRemovalInput names the OutgoingCallerId to delete.
type CallerIDRemovalInput struct {
	UserID, E164        string
	OutgoingCallerIDSid string
}

// "Download my data" (issue 22, item 2): one DataExport workflow per
// export a user asks for, ID export-<user id>-<n> (n numbers the user's
// exports). Its input and history carry ids and sizes only: the activity
// reads Postgres and writes the ZIP to data_exports itself, the email's
// address is read at send time, and the link's token never leaves the
// activity that mails it.
const (
	DataExportWorkflowName = "DataExport"

	// ActivityBuildDataExport builds the ZIP of everything that is the
	// user's and stores it in the export's row (DataExportInput →
	// DataExportBuilt).
	ActivityBuildDataExport = "BuildDataExport"
	// ActivityEmailDataExport issues the download link and emails it
	// (DataExportInput → DataExportEmailed).
	ActivityEmailDataExport = "EmailDataExport"
	// ActivityExpireDataExport deletes the ZIP at expiry, or fails an
	// export that never got out (DataExportInput).
	ActivityExpireDataExport = "ExpireDataExport"

	// DefaultDataExportTTL is how long a link works when the input says
	// nothing (DATA_EXPORT_TTL's default).
	DefaultDataExportTTL = 24 * time.Hour
)

// Data export statuses, as stored in data_exports.status.
const (
	DataExportPreparing = "preparing"
	DataExportReady     = "ready" // built and emailed; downloadable until expires_at
	DataExportExpired   = "expired"
	DataExportFailed    = "failed"
)

// DataExportWorkflowID is the workflow ID of a user's n-th export.
func DataExportWorkflowID(userID string, n int32) string {
	return DataExportWorkflowIDPrefix(userID) + strconv.Itoa(int(n))
}

// DataExportWorkflowIDPrefix starts every data export workflow ID of a
// user (an account's deletion deletes them, running or not, by it).
func DataExportWorkflowIDPrefix(userID string) string { return "export-" + userID + "-" }

// DataExportInput starts a DataExport workflow.
type DataExportInput struct {
	ExportID string
	UserID   string
	// TTL is how long the link works from when it is issued
	// (DATA_EXPORT_TTL; 0: DefaultDataExportTTL).
	TTL time.Duration
	// BaseURL is the app's public address (PUBLIC_BASE_URL), for the link.
	BaseURL string
}

// DataExportBuilt is what the build stored: its size, never its content.
type DataExportBuilt struct {
	SizeBytes int64
}

// DataExportEmailed says the link went out, and until when it works.
type DataExportEmailed struct {
	ExpiresAt time.Time
}

// The account deletion workflow (issue 22): one per account, ID
// delete-<user>, started by Settings with update-with-start once the
// person's password was checked there (the password never reaches
// Temporal). Its request-deletion update checks, in one Postgres
// transaction, that no call or top-up is open and the balance is not
// negative, and marks the account deleting (which also ends every session
// and stops new calls and top-ups); a refusal is the update's
// AccountDeletionRefused error and the run ends. Then, each step retried
// until it succeeds: sign out every session, delete the Stripe Customer and
// the Twilio OutgoingCallerId, erase the person's data in one transaction
// (the audit row in account_deletions records it) and delete the person's
// closed workflow executions from Temporal. Its input, results and ID
// carry the user's id only: no number, email or name.
const (
	AccountDeletionWorkflowName = "AccountDeletion"
	UpdateRequestDeletion       = "request-deletion"

	ActivityBeginAccountDeletion   = "BeginAccountDeletion"
	ActivitySignOutAccount         = "SignOutAccount"
	ActivityDeleteAccountProviders = "DeleteAccountProviders"
	ActivityEraseAccountData       = "EraseAccountData"
	ActivityDeleteAccountWorkflows = "DeleteAccountWorkflows"

	// ErrTypeDeletionRefused: the account cannot be deleted now; its
	// details are the reason (DeletionRefused*).
	ErrTypeDeletionRefused = "AccountDeletionRefused"
)

// Why a deletion is refused (the refusal's details).
const (
	DeletionRefusedOpenCall        = "open_call"
	DeletionRefusedOpenTopUp       = "open_topup"
	DeletionRefusedNegativeBalance = "negative_balance"
	DeletionRefusedNoAccount       = "no_account"
)

// Account deletion statuses (AccountDeletionState.Status).
const (
	DeletionRequested = ""
	DeletionRefused   = "refused"
	DeletionDeleting  = "deleting"
	DeletionDone      = "deleted"
)

// AccountDeletionWorkflowID is the workflow ID of an account's deletion.
func AccountDeletionWorkflowID(userID string) string { return "delete-" + userID }

// AccountDeletionInput names the account.
type AccountDeletionInput struct {
	UserID string
}

// AccountDeletionStarted is the update's answer: the account is marked
// deleting; BalanceCents is what its wallet holds (kept in the ledger; a
// positive balance support can refund on request).
type AccountDeletionStarted struct {
	BalanceCents int64
}

// AccountErased is what the erasure changed: rows per step.
type AccountErased struct {
	Rows map[string]int64
}

// AccountDeletionState is the run's outcome (and QueryState's answer).
type AccountDeletionState struct {
	Status           string
	Refusal          string `json:",omitempty"`
	BalanceCents     int64
	SessionsEnded    int64
	WorkflowsDeleted int
}
