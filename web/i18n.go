package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/internal/i18n"
)

// langCookie keeps a signed-out person's choice of language (the switcher
// on sign in, sign up and the password pages), for a year.
const langCookie = "lang"

// langOf is the language a request is answered in: the account's setting,
// else the lang cookie, else the browser's Accept-Language, else English.
func langOf(r *http.Request) string {
	if u := currentUser(r); u != nil && u.Locale != nil && i18n.Valid(*u.Locale) {
		return *u.Locale
	}
	if c, err := r.Cookie(langCookie); err == nil && i18n.Valid(c.Value) {
		return c.Value
	}
	return i18n.Match(r.Header.Get("Accept-Language"))
}

// mailLang is the language of an email to user: their account's, else the
// request's (the page they asked from).
func mailLang(r *http.Request, user db.User) string {
	if user.Locale != nil && i18n.Valid(*user.Locale) {
		return *user.Locale
	}
	return langOf(r)
}

// tr translates key into the request's language (see i18n.T).
func tr(r *http.Request, key string, args ...any) string {
	return i18n.T(langOf(r), key, args...)
}

// setLangCookie remembers lang on this browser.
func setLangCookie(w http.ResponseWriter, r *http.Request, lang string) {
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
}

// chooseLanguage is the signed-out switcher (GET /language?lang=fr&next=/signin):
// it only sets the cookie, then goes back to the page; a signed-in person's
// choice is saved with their account too.
func (s *Server) chooseLanguage(w http.ResponseWriter, r *http.Request) {
	lang := r.URL.Query().Get("lang")
	if !i18n.Valid(lang) {
		http.Error(w, "Unknown language.", http.StatusBadRequest)
		return
	}
	setLangCookie(w, r, lang)
	http.Redirect(w, r, localPath(r.URL.Query().Get("next"), "/"), http.StatusSeeOther)
}

// changeLanguage saves the language chosen in Settings to the account
// (POST /settings/language); the next page is in it.
func (s *Server) changeLanguage(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	lang := r.PostForm.Get("locale")
	if !i18n.Valid(lang) {
		s.renderSettings(w, r, http.StatusUnprocessableEntity, pageData{Form: r.PostForm,
			Errors: map[string]string{"locale": tr(r, "settings.language.invalid")}})
		return
	}
	if _, err := db.New(s.pool).SetUserLocale(r.Context(), db.SetUserLocaleParams{Locale: lang, ID: currentUser(r).ID}); err != nil {
		s.serverError(w, r, err)
		return
	}
	setLangCookie(w, r, lang)
	s.setFlash(r, "flash.language_saved")
	http.Redirect(w, r, "/settings", http.StatusSeeOther)
}

// flashMsg is a flash as the session keeps it: a catalogue key and its
// arguments, translated when the next page renders (in the language of
// that page).
type flashMsg struct {
	Key  string `json:"k"`
	Args []any  `json:"a,omitempty"`
}

func encodeFlash(key string, args []any) string {
	b, err := json.Marshal(flashMsg{Key: key, Args: args})
	if err != nil {
		return key
	}
	return string(b)
}

// flashText translates a flash the session kept. An argument named
// "XCents" is money: the message's {{.X}} is it formatted in lang. A flash
// that is not a key (the support console's English) shows as it is.
func flashText(lang, stored string) string {
	var m flashMsg
	d := json.NewDecoder(strings.NewReader(stored))
	d.UseNumber()
	if stored == "" || stored[0] != '{' || d.Decode(&m) != nil || m.Key == "" {
		return stored
	}
	for i := 0; i+1 < len(m.Args); i += 2 {
		name, _ := m.Args[i].(string)
		if n, ok := m.Args[i+1].(json.Number); ok {
			if c, err := n.Int64(); err == nil && strings.HasSuffix(name, "Cents") {
				m.Args[i], m.Args[i+1] = strings.TrimSuffix(name, "Cents"), i18n.Money(lang, c)
			} else if err == nil {
				m.Args[i+1] = c
			}
		}
	}
	return i18n.T(lang, m.Key, m.Args...)
}

// langTemplateFuncs are the template functions of languages: {{t .Lang
// "key" "Name" value}} translates, {{cents .Lang 500}} writes money, and
// so on (docs/ARCHITECTURE.md, Languages).
var langTemplateFuncs = map[string]any{
	"t": i18n.T,
	// jsCatalogue: the front end's messages, for <script type="application/json" id="i18n">.
	"jsCatalogue": func(lang string) template.JS { return template.JS(i18n.JSCatalogue(lang)) },
	"cents":       i18n.Money,
	"rate": func(lang string, micros int64) string {
		return i18n.T(lang, "money.per_minute", "Price", i18n.MoneyMicros(lang, micros))
	},
	"number":        i18n.Number,
	"dir":           i18n.Dir,
	"langs":         func() []string { return i18n.Supported },
	"langName":      i18n.Name,
	"date":          i18n.Date,
	"dateTime":      i18n.DateTime,
	"shortDateTime": i18n.ShortDateTime,
	"dur":           i18n.Duration,
	"balance":       func(lang string, cents int64) balanceView { return balanceView{Lang: lang, Cents: cents} },
	"topUpView":     func(lang string, t db.TopUp) topUpStatusView { return topUpStatusView{Lang: lang, TopUp: t} },
	// callText, topUpText: a call's or a top-up's status in words.
	"callText":  func(lang, status string) string { return i18n.T(lang, "call_status."+status) },
	"topUpText": func(lang, status string) string { return i18n.T(lang, "topup_status."+status) },
}

// balanceView is the balance_value partial's data: the live stream renders
// it alone, so it carries its language.
type balanceView struct {
	Lang  string
	Cents int64
}

// accountsMessages are internal/accounts' form errors (English, written
// where the rule is) and their catalogue keys: formErrors shows them in the
// page's language. A message not listed shows in English.
var accountsMessages = map[string]string{
	"Enter your name (up to 100 characters).":                                  "accounts.name",
	"Choose your country.":                                                     "accounts.country",
	"An account with this email already exists. Sign in instead?":              "accounts.email_taken",
	"Another account uses this email.":                                         "accounts.email_used",
	"That is not your current password.":                                       "accounts.wrong_password",
	"Enter an email address like name@example.com.":                            "accounts.email_invalid",
	"Choose a time zone from the list, such as Africa/Lagos or Europe/London.": "accounts.time_zone",
}

func translateFieldErrors(lang string, fe map[string]string) map[string]string {
	out := make(map[string]string, len(fe))
	for field, msg := range fe {
		switch key, ok := accountsMessages[msg]; {
		case ok:
			out[field] = i18n.T(lang, key)
		case msg == fmt.Sprintf("Use at least %d characters.", accounts.MinPasswordLength):
			out[field] = i18n.T(lang, "accounts.password_short", "Min", accounts.MinPasswordLength)
		case msg == fmt.Sprintf("Use at most %d characters.", accounts.MaxPasswordLength):
			out[field] = i18n.T(lang, "accounts.password_long", "Max", accounts.MaxPasswordLength)
		default:
			out[field] = msg
		}
	}
	return out
}
