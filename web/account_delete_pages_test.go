package web

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/i18n"
	"github.com/mobayilo/mobayilo/workflows"
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
		Errors: map[string]string{"delete_account": deletionRefusal("en", "open_call")}})
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

// In the account's language, Settings' export and delete sections, the
// refusals (money formatted for it) and the deleted page are the
// catalogue's, with no English left of them.
func TestDataExportAndDeleteAccountInTheAccountsLanguage(t *testing.T) {
	assets, err := loadAssets()
	if err != nil {
		t.Fatal(err)
	}
	templates, err := parseTemplates(assets)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{templates: templates, assets: assets}
	for _, lang := range []string{"fr", "es", "pt", "ar"} {
		l := lang
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		user := &sessionUser{User: db.User{ID: uuid.New(), Email: "ama@example.com", DisplayName: "Ama", HomeCountry: "GH", Role: "user", Locale: &l}, BalanceCents: 1234}
		req = req.WithContext(contextWithUser(req.Context(), user))
		rec := httptest.NewRecorder()
		refusal := deletionRefusal(lang, workflows.DeletionRefusedNegativeBalance)
		s.render(rec, req, http.StatusConflict, "settings", pageData{Tab: "settings", Form: url.Values{}, Data: settingsData{},
			Errors: map[string]string{"delete_account": refusal}})
		body := html.UnescapeString(rec.Body.String())
		for _, want := range []string{
			i18n.T(lang, "data_export.title"), i18n.T(lang, "data_export.intro"), i18n.T(lang, "account_delete.title"),
			i18n.T(lang, "account_delete.balance_amount", "Amount", i18n.Money(lang, 1234)), i18n.T(lang, "account_delete.password"),
			i18n.T(lang, "account_delete.confirm"), refusal,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: settings lacks %q", lang, want)
			}
		}
		if !strings.Contains(refusal, i18n.Money(lang, 0)) {
			t.Errorf("%s: the negative-balance refusal %q does not say %q", lang, refusal, i18n.Money(lang, 0))
		}
		for _, english := range []string{"Download my data", "Delete my account", "Your password", "not refunded automatically", "$12.34", "$0.00"} {
			if strings.Contains(body, english) || strings.Contains(refusal, english) {
				t.Errorf("%s: settings still says %q", lang, english)
			}
		}
		rec = httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: langCookie, Value: lang})
		s.render(rec, r, http.StatusOK, "account_deleted", pageData{Data: accountDeletedData{BalanceCents: 990}})
		if body := html.UnescapeString(rec.Body.String()); !strings.Contains(body, i18n.T(lang, "account_deleted.heading")) ||
			!strings.Contains(body, i18n.T(lang, "account_deleted.balance", "Balance", i18n.Money(lang, 990))) {
			t.Errorf("%s: deleted page:\n%s", lang, body)
		}
	}
}
