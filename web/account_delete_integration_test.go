package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/proto"

	"github.com/mobayilo/mobayilo/activities"
	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/workflows"
)

// Deleting an account end to end, against the Temporal dev server with and
// without the payload codec: a verified caller ID and a call put the
// person's numbers in Postgres and in Temporal; after the deletion the
// person is signed out everywhere and cannot sign in, and no workflow of
// theirs is left (their IDs, memos, search attributes and histories are
// gone with them), while another person's account and workflows are not
// touched.
func TestDeleteAccountEndToEnd(t *testing.T) {
	for name, keys := range map[string]string{"plain": "", "codec": testCodecKeys} {
		t.Run(name, func(t *testing.T) { testDeleteAccount(t, keys) })
	}
}

func testDeleteAccount(t *testing.T, keys string) {
	e := newCallEnvWithCodec(t, keys)
	api := httptest.NewServer(e.sim.RESTHandler())
	t.Cleanup(api.Close)
	tc, err := carrier.NewTwilioCallsAt(e.cfg.TwilioAccountSID, e.cfg.TwilioAPIKey, e.cfg.TwilioAPISecret, api.URL)
	if err != nil {
		t.Fatal(err)
	}
	e.stopWorker()
	e.acts.Carrier = tc
	e.acts.Workflows = e.tc
	e.startWorker()
	ctx := context.Background()

	const email, called = "gone@example.com", "+2348037654321"
	a := e.caller(email, 500)
	other := e.caller("kept@example.com", 500)
	second := e.browser() // the same person on another device
	if r := second.signIn(email, "correct horse"); r.status != http.StatusSeeOther {
		t.Fatalf("second sign-in: %d", r.status)
	}
	if r := a.post("/settings/caller-id", url.Values{"caller_id": {"0803 123 4567"}}); r.status != http.StatusSeeOther {
		t.Fatalf("add caller id: %d %s", r.status, r.body)
	}
	row := e.awaitCallerID(email, "shown a code", codeShown)
	if ok, err := e.sim.EnterValidationCode(ctx, ownNumber, *row.ValidationCode); err != nil || !ok {
		t.Fatalf("code: %v %v", ok, err)
	}
	e.awaitCallerID(email, "verified", func(r db.CallerID) bool { return r.Status == workflows.CallerIDVerified })
	e.placeAndFinish(a, called, time.Second)
	e.placeAndFinish(other, called, time.Second)
	userID := e.userID(email).String()
	if keys == "" && !e.temporalHolds(called, ownNumber) {
		t.Fatal("before the deletion no history names the numbers: the check below would prove nothing")
	}

	// A wrong password, and an open top-up (the other person's), refuse.
	if r := a.post("/settings/delete", url.Values{"delete_password": {"wrong horse"}}); r.status != http.StatusUnprocessableEntity ||
		!strings.Contains(r.body, "That is not your current password.") {
		t.Fatalf("wrong password: %d\n%s", r.status, r.body)
	}
	other.buy(500)
	if r := other.post("/settings/delete", url.Values{"delete_password": {"correct horse"}}); r.status != http.StatusConflict ||
		!strings.Contains(r.body, "A top-up is still waiting for its payment.") {
		t.Fatalf("open top-up: %d\n%s", r.status, r.body)
	}

	r := a.post("/settings/delete", url.Values{"delete_password": {"correct horse"}})
	if r.status != http.StatusSeeOther || r.location != "/account/deleted" {
		t.Fatalf("delete: %d %q\n%s", r.status, r.location, r.body)
	}
	if page := a.get("/account/deleted"); page.status != http.StatusOK || !strings.Contains(page.body, "Your account was deleted") ||
		!strings.Contains(page.body, "was not refunded automatically") {
		t.Fatalf("deleted page: %d\n%s", page.status, page.body)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var st workflows.AccountDeletionState
	if err := e.tc.GetWorkflow(wctx, workflows.AccountDeletionWorkflowID(userID), "").Get(wctx, &st); err != nil || st.Status != workflows.DeletionDone {
		t.Fatalf("deletion: %+v %v", st, err)
	}
	if keys == "" {
		recordHistory(t, e.tc, workflows.AccountDeletionWorkflowID(userID), "account_deletion.json")
		recordHistory(t, e.tc, workflows.AccountDeletionWorkflowID(e.userID("kept@example.com").String()), "account_deletion_refused.json")
	}
	if st.WorkflowsDeleted < 2 || st.SessionsEnded < 1 {
		t.Errorf("deletion state %+v: want its call and caller-ID workflows deleted and the other session ended", st)
	}

	for _, b := range []*browser{a, second} {
		if r := b.get("/settings"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/signin") {
			t.Errorf("a session of the deleted account still works: %d %q", r.status, r.location)
		}
	}
	if r := e.browser().signIn(email, "correct horse"); r.status == http.StatusSeeOther && r.location == "/call" {
		t.Error("the deleted account signed in")
	}
	if r := other.get("/settings"); r.status != http.StatusOK || !strings.Contains(r.body, "kept@example.com") {
		t.Errorf("the other person's session: %d", r.status)
	}
	e.mustVerifyLedger()

	// Temporal: nothing of theirs is listed, and no execution left names
	// their numbers or email. The server deletes asynchronously: a closed
	// execution once its close tasks are acknowledged, which the dev server
	// records every 30 s (history.transferProcessorUpdateAckInterval).
	deadline := time.Now().Add(150 * time.Second)
	for {
		left := e.listWorkflows(activities.AccountWorkflowsQuery(userID))
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("workflows of the deleted account left: %v", left)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if e.temporalHolds(ownNumber, email) {
		t.Error("a workflow execution left still names the deleted account's number or email")
	}
	// The other person's call workflow is still there, with its number.
	if len(e.listWorkflows("UserID = '"+e.userID("kept@example.com").String()+"'")) == 0 {
		t.Error("the other person's workflows were deleted")
	}
}

// listWorkflows lists the IDs of the executions query finds.
func (e *callEnv) listWorkflows(query string) []string {
	e.t.Helper()
	resp, err := e.tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 1000})
	if err != nil {
		e.t.Fatalf("list %q: %v", query, err)
	}
	var ids []string
	for _, x := range resp.GetExecutions() {
		ids = append(ids, x.GetExecution().GetWorkflowId())
	}
	return ids
}

// temporalHolds reports whether any execution's ID, memo, search
// attributes or history (as stored, in protobuf's wire form: a payload's
// bytes verbatim, encrypted under the codec) contains one of the needles.
func (e *callEnv) temporalHolds(needles ...string) bool {
	e.t.Helper()
	ctx := context.Background()
	resp, err := e.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	contains := func(s string) bool {
		for _, n := range needles {
			if strings.Contains(s, n) || strings.Contains(s, strings.TrimPrefix(n, "+")) {
				return true
			}
		}
		return false
	}
	for _, x := range resp.GetExecutions() {
		info, _ := proto.Marshal(x)
		if contains(string(info)) {
			return true
		}
		it := e.tc.GetWorkflowHistory(ctx, x.GetExecution().GetWorkflowId(), x.GetExecution().GetRunId(), false, 0)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				break // deleted meanwhile
			}
			raw, _ := proto.Marshal(ev)
			if contains(string(raw)) {
				return true
			}
		}
	}
	return false
}

// A top-up asked for by a session that was still valid when its account
// was marked deleting (a request in flight) creates nothing: a clear 409.
func TestNoTopUpForAnAccountBeingDeleted(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("leaving@example.com", "correct horse", "Leaving")
	// Marked as the deletion's check marks it, but for the password bump
	// that would sign this session out first.
	if _, err := a.pool.Exec(context.Background(), `UPDATE users SET deleting_at = now() WHERE email = 'leaving@example.com'`); err != nil {
		t.Fatal(err)
	}
	r := b.post("/credits/purchase", url.Values{"package": {"500"}})
	if r.status != http.StatusConflict || !strings.Contains(r.body, "This account is being deleted.") {
		t.Fatalf("purchase: %d\n%s", r.status, r.body)
	}
	var n int
	if err := a.pool.QueryRow(context.Background(), `SELECT count(*) FROM topups`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("top-ups created: %d %v", n, err)
	}
}
