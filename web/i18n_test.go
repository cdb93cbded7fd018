package web

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mobayilo/mobayilo/internal/i18n"
)

// Every dynamic key the templates make ("nav." + tab, "call_status." +
// status, "topup_status." + status) is in every catalogue.
func TestDynamicKeysAreInEveryCatalogue(t *testing.T) {
	var keys []string
	for _, tab := range navTabs {
		keys = append(keys, "nav."+tab.Name)
	}
	for name, status := range statusNames {
		switch {
		case strings.HasPrefix(name, "call") && status != "created":
			keys = append(keys, "call_status."+status)
		case strings.HasPrefix(name, "topUp"):
			keys = append(keys, "topup_status."+status)
		}
	}
	for _, k := range accountsMessages {
		keys = append(keys, k)
	}
	keys = append(keys, "accounts.password_short", "accounts.password_long")
	for _, k := range deletionRefusals {
		keys = append(keys, k)
	}
	keys = append(keys, "account_delete.refused.other")
	for _, reason := range []string{"refund", "dispute", "adjustment", "balance"} {
		keys = append(keys, "call.cut.why."+reason)
	}
	for _, k := range keys {
		for _, l := range i18n.Supported {
			if !i18n.Has(l, k) {
				t.Errorf("%s lacks %q", l, k)
			}
		}
	}
}

// The language of a request: the account's, else the lang cookie, else
// Accept-Language, else English.
func TestLanguageOfARequest(t *testing.T) {
	fr, es := "fr", "es"
	for _, c := range []struct {
		name, cookie, accept string
		user                 *sessionUser
		want                 string
	}{
		{name: "nothing", want: "en"},
		{name: "browser", accept: "pt-BR,pt;q=0.9", want: "pt"},
		{name: "cookie over browser", cookie: "ar", accept: "pt-BR", want: "ar"},
		{name: "a cookie we lack", cookie: "de", accept: "es", want: "es"},
		{name: "account over all", cookie: "ar", accept: "pt", user: userWithLocale(&fr), want: "fr"},
		{name: "account without a setting", cookie: "es", user: userWithLocale(nil), want: "es"},
		{name: "account", user: userWithLocale(&es), want: "es"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if c.cookie != "" {
			r.AddCookie(&http.Cookie{Name: langCookie, Value: c.cookie})
		}
		if c.accept != "" {
			r.Header.Set("Accept-Language", c.accept)
		}
		if c.user != nil {
			r = r.WithContext(contextWithUser(context.Background(), c.user))
		}
		if got := langOf(r); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func userWithLocale(l *string) *sessionUser {
	u := &sessionUser{}
	u.Locale = l
	return u
}

// A flash is kept as a key and translated when shown: money arguments
// ("XCents") in the language of the page that shows it; the support
// console's plain English passes as it is.
func TestFlashIsTranslatedWhenShown(t *testing.T) {
	stored := encodeFlash("flash.email_confirmed", []any{"BonusCents", int64(500)})
	if got, want := flashText("fr", stored), i18n.T("fr", "flash.email_confirmed", "Bonus", i18n.Money("fr", 500)); got != want {
		t.Errorf("fr: %q, want %q", got, want)
	}
	if got := flashText("en", stored); got != "Your email is confirmed, and your $5.00 welcome bonus is in your balance." {
		t.Errorf("en: %q", got)
	}
	if got := flashText("fr", encodeFlash("Charged $1.00.", nil)); got != "Charged $1.00." {
		t.Errorf("a console flash: %q", got)
	}
	if got := flashText("fr", "an old flash"); got != "an old flash" {
		t.Errorf("a flash kept before keys: %q", got)
	}
}

// internal/accounts' form errors show in the page's language; one it does
// not know shows as it is.
func TestAccountsFormErrorsAreTranslated(t *testing.T) {
	got := translateFieldErrors("es", map[string]string{"email": "Another account uses this email.", "password": "Use at least 8 characters.", "x": "Something new."})
	if got["email"] != i18n.T("es", "accounts.email_used") || got["password"] != i18n.T("es", "accounts.password_short", "Min", 8) || got["x"] != "Something new." {
		t.Errorf("%v", got)
	}
	if got := translateFieldErrors("en", map[string]string{"password": "Use at least 8 characters."}); got["password"] != "Use at least 8 characters." {
		t.Errorf("en: %v", got)
	}
}

// The no-script quote is in the page's language: the rate, what the
// balance buys, the cap and the link to add credit.
func TestQuoteFragmentIsTranslated(t *testing.T) {
	assets, err := loadAssets()
	if err != nil {
		t.Fatal(err)
	}
	templates, err := parseTemplates(assets)
	if err != nil {
		t.Fatal(err)
	}
	buys, capMin := int64(1250), int64(120)
	q := quote{E164: "+254712345678", CountryName: "Kenya", Description: "Kenya mobile", RatePerMinuteMicros: 90_000, RatePerMinute: "$0.09/min",
		BalanceMinutes: &buys, CallCapMinutes: &capMin, CanCall: true}
	var buf strings.Builder
	if err := templates["rates"].ExecuteTemplate(&buf, "quote", quoteView{quote: q, Lang: "fr"}); err != nil {
		t.Fatal(err)
	}
	body := html.UnescapeString(buf.String())
	for _, want := range []string{
		i18n.T("fr", "money.per_minute", "Price", i18n.MoneyMicros("fr", 90_000)),
		i18n.T("fr", "quote.balance_buys") + " <strong>" + i18n.T("fr", "quote.minutes", "Minutes", i18n.Number("fr", 1250)) + "</strong>",
		i18n.T("fr", "quote.cap", "Minutes", "120"),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the French quote lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "$0.09") || strings.Contains(body, "your balance") {
		t.Errorf("the French quote has English:\n%s", body)
	}
}
