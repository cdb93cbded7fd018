package web

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"

	"github.com/mobayilo/mobayilo/internal/i18n"
	"github.com/mobayilo/mobayilo/workflows"
)

// sessDeletedBalance carries a deleted account's balance to the page that
// says it was deleted (the session is no longer the person's by then).
const sessDeletedBalance = "deleted_balance_cents"

// deletionRefusals are the catalogue keys of the reasons a deletion is
// refused, for the person (deletionRefusal translates them).
var deletionRefusals = map[string]string{
	workflows.DeletionRefusedOpenCall:        "account_delete.refused.open_call",
	workflows.DeletionRefusedOpenTopUp:       "account_delete.refused.open_topup",
	workflows.DeletionRefusedNegativeBalance: "account_delete.refused.negative_balance",
	workflows.DeletionRefusedNoAccount:       "account_delete.refused.no_account",
}

// deletionRefusal is a refusal's reason in lang; one we do not know says
// that nothing was changed.
func deletionRefusal(lang, reason string) string {
	key, ok := deletionRefusals[reason]
	if !ok {
		return i18n.T(lang, "account_delete.refused.other")
	}
	return i18n.T(lang, key, "Zero", i18n.Money(lang, 0))
}

// deleteAccount deletes the signed-in person's account (partials/
// account_delete.html) once their password is confirmed here: the
// password never reaches Temporal. The AccountDeletion workflow's
// request-deletion update answers with the refusal, or with the account
// marked deleting (every session is then ended); this browser is signed
// out and sent to the page saying so, while the workflow erases the rest.
func (s *Server) deleteAccount(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	u := currentUser(r)
	err := s.accounts.ConfirmPassword(r.Context(), u.ID, r.PostForm.Get("delete_password"), s.clientIP(r), "delete_password")
	if s.settingsThrottled(w, r, err, "delete_password", url.Values{}) {
		return
	}
	if fe := formErrors(r, err); fe != nil {
		s.renderSettings(w, r, http.StatusUnprocessableEntity, pageData{Form: url.Values{}, Errors: fe})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	id := u.ID.String()
	var started workflows.AccountDeletionStarted
	err = s.startWorkflow(r.Context(), workflowStart{
		ID: workflows.AccountDeletionWorkflowID(id), Workflow: workflows.AccountDeletionWorkflowName,
		Input: workflows.AccountDeletionInput{UserID: id},
		// An update ID of its own per request: Temporal answers a repeated
		// one from a closed run (a refusal) with that run's outcome.
		Update: workflows.UpdateRequestDeletion, UpdateID: "request-deletion-" + uuid.NewString(), Bound: 20 * time.Second,
		Refusal: workflows.ErrTypeDeletionRefused,
	}, &started)
	var appErr *temporal.ApplicationError
	if isRefusal(err, workflows.ErrTypeDeletionRefused) && errors.As(err, &appErr) {
		var reason string
		_ = appErr.Details(&reason)
		msg := deletionRefusal(langOf(r), reason)
		s.log.Info().Str("user_id", id).Str("reason", reason).Msg("account deletion refused")
		s.renderSettings(w, r, http.StatusConflict, pageData{Form: url.Values{}, Errors: map[string]string{"delete_account": msg}})
		return
	}
	if err != nil {
		s.renderSettings(w, r, http.StatusServiceUnavailable, pageData{Form: url.Values{}, Errors: map[string]string{
			"delete_account": tr(r, "account_delete.failed")}})
		return
	}
	s.log.Info().Str("user_id", id).Int64("balance_cents", started.BalanceCents).Msg("account deletion started")
	if err := s.endSession(r.Context()); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.sessions.Put(r.Context(), sessDeletedBalance, int(started.BalanceCents))
	http.Redirect(w, r, "/account/deleted", http.StatusSeeOther)
}

// accountDeletedData is the deleted page's: the balance left, if any.
type accountDeletedData struct {
	BalanceCents int64
}

// showAccountDeleted says the account was deleted, signed out.
func (s *Server) showAccountDeleted(w http.ResponseWriter, r *http.Request) {
	if currentUser(r) != nil {
		http.Redirect(w, r, "/settings", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "account_deleted", pageData{Data: accountDeletedData{BalanceCents: int64(s.sessions.PopInt(r.Context(), sessDeletedBalance))}})
}
