package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/db"
)

func init() {
	extraPageSamples["account_deleted"] = pageData{Data: accountDeletedData{BalanceCents: 990}}
}

// The delete section shows its refusal, and the deleted page the balance
// left.
func TestAccountDeletePagesSay(t *testing.T) {
	assets, err := loadAssets()
	if err != nil {
		t.Fatal(err)
	}
	templates, err := parseTemplates(assets)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{templates: templates, assets: assets}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	user := &sessionUser{User: db.User{ID: uuid.New(), Email: "ama@example.com", DisplayName: "Ama", HomeCountry: "GH", Role: "user"}, BalanceCents: 1234}
	req = req.WithContext(contextWithUser(req.Context(), user))
	rec := httptest.NewRecorder()
	s.render(rec, req, http.StatusConflict, "settings", pageData{Tab: "settings", Form: url.Values{},
		Errors: map[string]string{"delete_account": deletionRefusals["open_call"]}})
	body := rec.Body.String()
	for _, want := range []string{`action="/settings/delete"`, `name="delete_password"`, "You have a call in progress", "(you have $12.34)", "not refunded automatically"} {
		if !strings.Contains(body, want) {
			t.Errorf("settings lacks %q", want)
		}
	}
	rec = httptest.NewRecorder()
	s.render(rec, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusOK, "account_deleted", pageData{Data: accountDeletedData{BalanceCents: 990}})
	if body := rec.Body.String(); !strings.Contains(body, "Your account was deleted") || !strings.Contains(body, "$9.90") {
		t.Errorf("deleted page:\n%s", body)
	}
}
