package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/workflows"
)

// The support console: pages for staff with the admin role. Everything it
// changes goes through the same workflows and ledger as the app, and every
// change is recorded in admin_actions (the audit log).

// overdueGrace: a call still open this long past its max_seconds (ringing
// included) needs a look.
const overdueGrace = 10 * time.Minute

// requireAdmin answers 404 to anyone who is not a signed-in admin: the
// console does not exist for them.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := currentUser(r); u == nil || u.Role != "admin" {
			s.notFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// auditEntry is one staff action to record.
type auditEntry struct {
	Action, TargetType, TargetID, Reason string
	Details                              map[string]any
	Key                                  string // idempotency key; "" for none
}

// audit records a staff action in q's transaction; recorded is false when
// the same key was recorded before (a resubmitted form).
func (s *Server) audit(ctx context.Context, q *db.Queries, actor uuid.UUID, e auditEntry) (recorded bool, err error) {
	id, err := s.auditAction(ctx, q, actor, e)
	return id != 0, err
}

// auditAction is audit returning the new row's id (0 when the same key was
// recorded before), for the outcome recorded once the action completes.
func (s *Server) auditAction(ctx context.Context, q *db.Queries, actor uuid.UUID, e auditEntry) (int64, error) {
	details, err := json.Marshal(e.Details)
	if err != nil || e.Details == nil {
		details = []byte("{}")
	}
	var key *string
	if e.Key != "" {
		key = &e.Key
	}
	id, err := q.InsertAdminAction(ctx, db.InsertAdminActionParams{ActorID: actor, Action: e.Action, TargetType: e.TargetType,
		TargetID: e.TargetID, Reason: e.Reason, Details: details, IdempotencyKey: key})
	if errors.Is(err, db.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("web: audit %s %s: %w", e.Action, e.TargetID, err)
	}
	return id, nil
}

// temporalLink is the Temporal UI's page of a workflow ("" without a UI URL).
func (s *Server) temporalLink(workflowID string) string {
	if s.cfg.TemporalUIURL == "" {
		return ""
	}
	return strings.TrimSuffix(s.cfg.TemporalUIURL, "/") + "/namespaces/" + url.PathEscape(s.cfg.TemporalNamespace) +
		"/workflows/" + url.PathEscape(workflowID)
}

// stuckCall is a call workflow Temporal lists as stuck in billing.
type stuckCall struct {
	CallID, WorkflowID, UserID, Link string
	Started                          time.Time
}

type dashboardData struct {
	Counts     db.DashboardCountsRow
	Stuck      []stuckRow
	StuckError string // Temporal could not be asked
	Overdue    []db.ListOverdueCallsRow
	TopUps     []db.ListStaleTopUpsRow
	Webhooks   []db.WebhookEvent
	// Stripe: top-ups whose credit or reversal Stripe did not confirm, and
	// events of another API version this build could not read.
	StuckTopUps   []db.ListStuckTopUpsRow
	StripeVersion []db.ListStripeVersionProblemsRow
	// StuckLink: every stuck call in the Temporal UI's list.
	StuckLink string
	// Quality: the share of poor ratings per country, last 7 days.
	Quality []db.CallQualityByCountryRow
}

// stuckQuery is the visibility query for calls waiting for support.
const stuckQuery = `WorkflowType = "` + workflows.CallWorkflowName + `" AND BillingState = "` + workflows.BillingStuck + `" AND ExecutionStatus = "Running"`

// showAdminDashboard lists what needs attention: stuck calls as Temporal
// holds them (a visibility query), and counts and lists from Postgres.
func (s *Server) showAdminDashboard(w http.ResponseWriter, r *http.Request) {
	q := db.New(s.pool)
	grace := (s.callTiming().Ring() + overdueGrace).Milliseconds()
	d := dashboardData{StuckLink: s.temporalListLink(stuckQuery)}
	var err error
	if d.Counts, err = q.DashboardCounts(r.Context(), grace); err != nil {
		s.serverError(w, r, err)
		return
	}
	if d.Overdue, err = q.ListOverdueCalls(r.Context(), grace); err != nil {
		s.serverError(w, r, err)
		return
	}
	if d.TopUps, err = q.ListStaleTopUps(r.Context()); err != nil {
		s.serverError(w, r, err)
		return
	}
	if d.Webhooks, err = q.ListRetryingWebhooks(r.Context()); err != nil {
		s.serverError(w, r, err)
		return
	}
	if d.StuckTopUps, err = q.ListStuckTopUps(r.Context()); err != nil {
		s.serverError(w, r, err)
		return
	}
	if d.StripeVersion, err = q.ListStripeVersionProblems(r.Context()); err != nil {
		s.serverError(w, r, err)
		return
	}
	if d.Quality, err = q.CallQualityByCountry(r.Context()); err != nil {
		s.serverError(w, r, err)
		return
	}
	stuck, err := s.stuckCalls(r.Context())
	if err != nil {
		s.log.Warn().Err(err).Msg("admin: list stuck calls from Temporal")
		d.StuckError = "Temporal could not be asked for stuck calls just now (" + plainError(err.Error()) + "). The count from Postgres is below."
	}
	if d.Stuck, err = s.stuckRows(r.Context(), q, stuck); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "admin_dashboard", pageData{Tab: "admin", Data: d})
}

// stuckCalls asks Temporal's visibility for running call workflows whose
// BillingState is stuck.
func (s *Server) stuckCalls(ctx context.Context) ([]stuckCall, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: stuckQuery, PageSize: 100})
	if err != nil {
		return nil, err
	}
	out := make([]stuckCall, 0, len(resp.Executions))
	for _, e := range resp.Executions {
		wid := e.GetExecution().GetWorkflowId()
		c := stuckCall{WorkflowID: wid, CallID: strings.TrimPrefix(wid, "call-"), Link: s.temporalLink(wid)}
		if p := e.GetSearchAttributes().GetIndexedFields()["UserID"]; p != nil {
			_ = json.Unmarshal(p.GetData(), &c.UserID)
		}
		if t := e.GetStartTime(); t != nil {
			c.Started = t.AsTime()
		}
		out = append(out, c)
	}
	return out, nil
}

// The console's call and top-up pages have one shape: the row, then what
// adminWorkflow loads for either (whose it is, the workflow's state query,
// its webhook deliveries, its ledger entries, the staff actions on it, a
// link into the Temporal UI), shown by partials/admin_workflow.html.

type adminCallData struct {
	Call       db.Call
	Email      string
	State      *workflows.CallState
	StateJSON  string
	StateError string
	Events     []db.CallEvent
	Webhooks   []adminDelivery
	Entries    []db.Transaction
	Audit      []db.ListAdminActionsForTargetRow
	Link       string
	// Reason: why billing is stuck, in a sentence (a stuck call only);
	// BalanceCents: the user's balance now.
	Reason       stuckReason
	BalanceCents int64
	// Carrier: why the carrier ended the call, in words (admin_call.go).
	Carrier carrierWords
	// LostDuringCall: refunds, disputes and debits posted to the wallet
	// while the call went on (what cut it short, or left it a debt).
	LostDuringCall []db.Transaction
	// CountryFailedLink: the failed calls to this call's country in the
	// Temporal UI's list.
	CountryFailedLink string
	// Rating: how the caller rated the call (ratings.go); nil when unrated.
	Rating *callRatingView
}

// adminWorkflowParts is what adminWorkflow loads for either page.
type adminWorkflowParts struct {
	Email, StateJSON, StateError, Link string
	StateOK                            bool // state was filled from the query
	Webhooks                           []db.WebhookEvent
	Entries                            []db.Transaction
	Audit                              []db.ListAdminActionsForTargetRow
}

// adminWorkflow loads the parts the call and top-up pages share for the
// workflow wid of userID's row targetType/targetID; the state query goes
// into state, and entries lists the row's ledger entries. A state query
// that fails is shown on the page; a database error is the error.
func (s *Server) adminWorkflow(ctx context.Context, q *db.Queries, wid string, userID uuid.UUID, targetType, targetID string, state any,
	entries func() ([]db.Transaction, error)) (adminWorkflowParts, error) {
	p := adminWorkflowParts{Link: s.temporalLink(wid)}
	if u, err := q.GetUserByID(ctx, userID); err == nil {
		p.Email = u.Email
	}
	if raw, err := s.queryState(ctx, wid, state); err != nil {
		p.StateError = err.Error()
	} else {
		p.StateJSON, p.StateOK = raw, true
	}
	var err error
	if p.Webhooks, err = q.ListWebhookEventsForWorkflow(ctx, &wid); err != nil {
		return p, err
	}
	if p.Entries, err = entries(); err != nil {
		return p, err
	}
	p.Audit, err = q.ListAdminActionsForTarget(ctx, db.ListAdminActionsForTargetParams{TargetType: targetType, TargetID: targetID})
	return p, err
}

// showAdminCall is everything about one call: the row and its status
// timeline, and the shared parts (adminWorkflow).
func (s *Server) showAdminCall(w http.ResponseWriter, r *http.Request) {
	call, ok := loadByID(s, w, r, (*db.Queries).GetCall)
	if !ok {
		return
	}
	id, q := call.ID, db.New(s.pool)
	var st workflows.CallState
	p, err := s.adminWorkflow(r.Context(), q, workflows.CallWorkflowID(id.String()), call.UserID, "call", id.String(), &st,
		func() ([]db.Transaction, error) { return q.ListCallEntries(r.Context(), &id) })
	d := adminCallData{Call: call, Email: p.Email, StateJSON: p.StateJSON, StateError: p.StateError,
		Entries: p.Entries, Audit: p.Audit, Link: p.Link, Carrier: explainCarrier(call),
		CountryFailedLink: s.temporalListLink(countryFailedCallsQuery(call.DestinationCountry))}
	if p.StateOK {
		d.State = &st
	}
	if err == nil {
		d.LostDuringCall, err = q.ListMoneyLostDuringCall(r.Context(), id)
	}
	if err == nil {
		d.Rating, err = loadCallRating(r, q, id)
	}
	if err == nil {
		d.Events, err = q.ListCallEvents(r.Context(), id)
		d.Webhooks = callDeliveries(p.Webhooks, d.Events)
	}
	if err == nil {
		var u db.GetUserWithBalanceRow
		if u, err = q.GetUserWithBalance(r.Context(), call.UserID); err == nil {
			d.BalanceCents = u.CachedBalanceCents
		}
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if call.BillingState == workflows.BillingStuck {
		errText, cost := "", int64(0)
		if call.BillingError != nil {
			errText = *call.BillingError
		} else if d.State != nil {
			errText = d.State.LastError
		}
		if call.CostCents != nil {
			cost = *call.CostCents
		} else if d.State != nil {
			cost = d.State.CostCents
		}
		d.Reason = explainStuck(errText, cost, d.BalanceCents)
	}
	s.render(w, r, http.StatusOK, "admin_call", pageData{Tab: "admin", Data: d})
}

// queryState runs a workflow's state query into v and returns it as
// indented JSON.
func (s *Server) queryState(ctx context.Context, workflowID string, v any) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	val, err := s.temporal.QueryWorkflow(ctx, workflowID, "", workflows.QueryState)
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return "", errors.New("no such workflow in Temporal (it may have been deleted after its retention period)")
		}
		return "", err
	}
	if err := val.Get(v); err != nil {
		return "", err
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b), nil
}

// retryBilling sends retry-billing to a stuck call's workflow, records it,
// and waits (a little) for the outcome, which the call's page then shows:
// charged, or still stuck with the error. The charge's idempotency key
// (call:<id>:charge) makes a double click or two staff at once charge once.
func (s *Server) retryBilling(w http.ResponseWriter, r *http.Request) {
	call, ok := loadByID(s, w, r, (*db.Queries).GetCall)
	if !ok {
		return
	}
	s.retryStuck(w, r, call, "")
}

// retryStuck is retryBilling's work on a call already read; credited, when
// not "", says what Credit and retry credited first (for the audit row and
// the banner).
func (s *Server) retryStuck(w http.ResponseWriter, r *http.Request, call db.Call, credited string) {
	id, q := call.ID, db.New(s.pool)
	back := "/admin/calls/" + id.String()
	wid := workflows.CallWorkflowID(id.String())
	before, ok := s.signalStuckCall(w, r, call, "retry", "retried", workflows.SignalRetryBilling,
		func(workflows.CallState) any { return nil }, credited)
	if !ok {
		return
	}
	admin := currentUser(r)
	// Recorded once sent: the log holds retries that happened; what each
	// came to is recorded below, once known.
	details := map[string]any{"last_error": plainError(before.LastError), "billing_attempts": before.BillingAttempts}
	if credited != "" {
		details["after_credit"] = credited
	}
	actionID, err := s.auditAction(r.Context(), q, admin.ID, auditEntry{Action: "retry_billing", TargetType: "call", TargetID: id.String(),
		Details: details})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.log.Info().Str("call_id", id.String()).Str("workflow_id", wid).Str("admin_id", admin.ID.String()).Msg("admin: retry-billing sent")
	// Wait up to 10 s for the attempt the signal starts.
	after := before
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if _, err := s.queryState(r.Context(), wid, &after); err != nil {
			// A charged call's workflow completes: the row tells.
			break
		}
		if after.BillingState != workflows.BillingStuck || after.BillingAttempts > before.BillingAttempts {
			break
		}
	}
	row, rowErr := q.GetCall(r.Context(), id)
	switch {
	case rowErr == nil && row.BillingState == workflows.BillingCharged:
		cost := int64(0)
		if row.CostCents != nil {
			cost = *row.CostCents
		}
		s.recordOutcome(r.Context(), actionID, true, "charged "+Money(cost))
		s.setFlash(r, credited+"Charged "+Money(cost)+".")
	case rowErr == nil && row.BillingState == workflows.BillingNotBillable:
		s.recordOutcome(r.Context(), actionID, true, "settled as not billable: nothing to charge")
		s.setFlash(r, credited+"Settled: the carrier's answer says there is nothing to charge.")
	case after.BillingState == workflows.BillingStuck:
		why := explainStuck(after.LastError, after.CostCents, 0).Sentence
		s.recordOutcome(r.Context(), actionID, false, "still stuck: "+why)
		s.setFlashError(r, credited+"The retry did not charge the call; it is still stuck. "+why)
	default:
		s.recordOutcome(r.Context(), actionID, false, "no answer yet: billing is "+after.BillingState)
		s.setFlashError(r, credited+"The retry was sent, but the call is not charged yet (billing is "+after.BillingState+"). Reload in a moment.")
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

type auditData struct {
	Actions []db.ListAdminActionsRow
	Older   string
	// The filters as given: actor and user emails, action, and the first
	// and last day (YYYY-MM-DD, UTC).
	Actor, Action, User, From, To string
	ActionNames                   []string
}

// auditActions are the actions the log can be filtered by.
var auditActions = []string{"retry_billing", "waive_billing", "adjustment", "disable_user", "enable_user",
	"rate_enable", "rate_disable", "rates_import", "topup_refund", "topup_cancel"}

// showAdminAudit lists staff actions, newest first, each with what it came
// to and its object as a person recognises it; filtered by actor, action,
// the user acted on and a range of days (UTC).
func (s *Server) showAdminAudit(w http.ResponseWriter, r *http.Request) {
	qv := r.URL.Query()
	d := auditData{Actor: strings.TrimSpace(qv.Get("actor")), Action: qv.Get("action"), User: strings.TrimSpace(qv.Get("user")),
		From: qv.Get("from"), To: qv.Get("to"), ActionNames: auditActions}
	p := db.ListAdminActionsParams{PageSize: 51}
	bad := func(msg string) {
		s.errorPage(w, r, http.StatusBadRequest, "Bad filter", msg)
	}
	if b := qv.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			bad("That page of the audit log does not exist.")
			return
		}
		p.BeforeID = &n
	}
	if d.Actor != "" {
		v := strings.ToLower(d.Actor)
		p.ActorEmail = &v
	}
	if d.User != "" {
		v := strings.ToLower(d.User)
		p.UserEmail = &v
	}
	if d.Action != "" {
		if !slices.Contains(auditActions, d.Action) {
			bad("There is no action called " + strconv.Quote(d.Action) + ".")
			return
		}
		p.Action = &d.Action
	}
	for _, f := range []struct {
		in  string
		out **time.Time
		add int
	}{{d.From, &p.Since, 0}, {d.To, &p.Until, 1}} {
		if f.in == "" {
			continue
		}
		day, err := time.Parse("2006-01-02", f.in)
		if err != nil {
			bad("Give days as YYYY-MM-DD.")
			return
		}
		day = day.AddDate(0, 0, f.add)
		*f.out = &day
	}
	rows, err := db.New(s.pool).ListAdminActions(r.Context(), p)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d.Actions = rows
	if len(rows) == 51 {
		d.Actions = rows[:50]
		next := cloneValues(qv)
		next.Set("before", strconv.FormatInt(rows[49].ID, 10))
		d.Older = "/admin/audit?" + next.Encode()
	}
	s.render(w, r, http.StatusOK, "admin_audit", pageData{Tab: "admin", Data: d})
}
