package web

import (
	"bytes"
	"embed"
	"fmt"
	"html"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/workflows"
)

//go:embed templates
var templateFiles embed.FS

// pageData is what every page template receives.
type pageData struct {
	User *db.User // nil when signed out
	// Lang is the page's language (langOf): every {{t .Lang "key"}} is in it.
	Lang         string
	BalanceCents int64
	// BalanceVersion is the wallet's live version, read with BalanceCents:
	// a live update of the balance older than it is ignored.
	BalanceVersion int64
	// Zone is the user's time zone (UTC when signed out): every time a
	// page shows is in it.
	Zone  *time.Location
	Tab   string // the active bottom-nav tab
	Path  string // the page's path (the language switcher comes back to it)
	Flash string
	// FlashError: the flash tells a failure (setFlashError).
	FlashError bool
	Form       url.Values        // submitted values, to refill a form shown again
	Errors     map[string]string // per field, plus "form" for the whole form
	Data       any               // the page's own data
	CSPNonce   string            // for Turbo's progress-bar style
	Device     string            // the in-call bar's device: "simulator" (development) or "twilio"
	Reauth     bool              // an admin's sensitive forms ask for the password again (admin_reauth.go)
	// AutoTopUpNotice: why we turned the user's automatic top-up off,
	// shown as a banner until dismissed ("" none; autotopup.go).
	AutoTopUpNotice string
}

// fieldData is one labelled input (partials/field.html).
type fieldData struct {
	Lang                                          string
	Name, Label, Type, Autocomplete, Value, Error string // Label is a catalogue key
}

// navTab is one tab of the bottom nav.
type navTab struct {
	Name, Label, Path, Icon string
}

var navTabs = []navTab{
	{"dial", "Dial", "/call", "M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a2 2 0 0 1-2 2A16 16 0 0 1 3 6a2 2 0 0 1 2-2"},
	{"history", "History", "/history", "M12 8v4l3 3M3.05 11a9 9 0 1 1 .5 4M3 20v-5h5"},
	{"credits", "Credits", "/credits", "M3 7h18v10H3zM3 11h18M7 15h2"},
	{"settings", "Settings", "/settings", "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-1.8-.3 1.7 1.7 0 0 0-1 1.5V21a2 2 0 1 1-4 0v-.1a1.7 1.7 0 0 0-1.1-1.5 1.7 1.7 0 0 0-1.8.3l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1a1.7 1.7 0 0 0 .3-1.8 1.7 1.7 0 0 0-1.5-1H3a2 2 0 1 1 0-4h.1a1.7 1.7 0 0 0 1.5-1.1 1.7 1.7 0 0 0-.3-1.8l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 1.8.3H9a1.7 1.7 0 0 0 1-1.5V3a2 2 0 1 1 4 0v.1a1.7 1.7 0 0 0 1 1.5 1.7 1.7 0 0 0 1.8-.3l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0-.3 1.8V9a1.7 1.7 0 0 0 1.5 1H21a2 2 0 1 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1z"},
}

// Money formats cents as dollars without floats: 1234 -> "$12.34".
func Money(cents int64) string { return rating.FormatCents(cents) }

// statusNames are the status constants templates compare with, each a
// template function of no argument ({{if eq .Status topUpSucceeded}}): a
// template never spells a status, and a misspelt name fails at start.
var statusNames = map[string]string{
	"callCreated": workflows.StatusCreated, "callAuthorized": workflows.StatusAuthorized, "callDialing": workflows.StatusDialing,
	"callRinging": workflows.StatusRinging, "callInProgress": workflows.StatusInProgress, "callCompleted": workflows.StatusCompleted,
	"callBusy": workflows.StatusBusy, "callNoAnswer": workflows.StatusNoAnswer, "callFailed": workflows.StatusFailed,
	"callCanceled": workflows.StatusCanceled, "callRefused": workflows.StatusRefused,
	"billingPending": workflows.BillingPending, "billingCharged": workflows.BillingCharged,
	"billingNotBillable": workflows.BillingNotBillable, "billingStuck": workflows.BillingStuck,
	"topUpCreated": workflows.TopUpCreated, "topUpProcessing": workflows.TopUpProcessing, "topUpFailed": workflows.TopUpFailed,
	"topUpSucceeded": workflows.TopUpSucceeded, "topUpCanceled": workflows.TopUpCanceled, "topUpRefunded": workflows.TopUpRefunded,
	"topUpDisputed": workflows.TopUpDisputed,
}

// formatDuration writes seconds as "1 min 05 s" or "42 s".
func formatDuration(seconds int64) string {
	if seconds < 60 {
		return fmt.Sprintf("%d s", seconds)
	}
	return fmt.Sprintf("%d min %02d s", seconds/60, seconds%60)
}

var urlPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

// linkify escapes text and turns its URLs into links (development mail).
func linkify(text string) template.HTML {
	var b strings.Builder
	last := 0
	for _, m := range urlPattern.FindAllStringIndex(text, -1) {
		b.WriteString(html.EscapeString(text[last:m[0]]))
		u := html.EscapeString(text[m[0]:m[1]])
		b.WriteString(`<a class="link" href="` + u + `">` + u + `</a>`)
		last = m[1]
	}
	b.WriteString(html.EscapeString(text[last:]))
	return template.HTML(b.String())
}

// parseTemplates parses every page with the layout and partials, once, at
// start. A broken template fails start-up.
func parseTemplates(assets *Assets) (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"asset": assets.Path,
		"money": Money,
		// dollars: cents as a form's amount, "0.28".
		"dollars":     func(cents int64) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) },
		"perMinute":   rating.FormatPerMinute,
		"navTabs":     func() []navTab { return navTabs },
		"countries":   accounts.Countries,
		"countryName": accounts.CountryName,
		"field": func(p pageData, name, label, typ, autocomplete string) fieldData {
			return fieldData{Lang: p.Lang, Name: name, Label: label, Type: typ, Autocomplete: autocomplete, Value: p.Form.Get(name), Error: p.Errors[name]}
		},
		"linkify":     linkify,
		"statusLabel": workflows.StatusLabel,
		"topUpLabel":  workflows.TopUpLabel,
		"cardBrand":   cardBrand,
		"isFinal":     func(status string) bool { return workflows.IsFinal(status) },
		"dtmfKeys":    func() []string { return []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"} },
		"duration":    formatDuration,
		"reauthField": reauthField,
		"local":       func(loc *time.Location, t time.Time) time.Time { return t.In(loc) },
		"voiceSDK":    assets.voiceSDK,
		// failed: an outcome recorded as a failure (nil: none recorded).
		"failed": func(ok *bool) bool { return ok != nil && !*ok },
	}
	for name, f := range langTemplateFuncs {
		funcs[name] = f
	}
	for name, v := range statusNames {
		funcs[name] = func() string { return v }
	}
	pages, err := fs.Glob(templateFiles, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	out := make(map[string]*template.Template, len(pages))
	for _, p := range pages {
		t, err := template.New(path.Base(p)).Funcs(funcs).ParseFS(templateFiles,
			"templates/layout/*.html", "templates/partials/*.html", p)
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", p, err)
		}
		out[strings.TrimSuffix(path.Base(p), ".html")] = t
	}
	return out, nil
}

// render writes page with status, rendered to a buffer first so a template
// error becomes a clean 500, never half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, data pageData) {
	t, ok := s.templates[page]
	if !ok {
		s.serverError(w, r, fmt.Errorf("web: no page template %q", page))
		return
	}
	data.Zone = time.UTC
	if u := currentUser(r); u != nil {
		data.User = &u.User
		data.BalanceCents = u.BalanceCents
		if s.pool != nil {
			// The balance again, with its version: the two must come from
			// one read for a live update to know which is newer.
			if b, err := db.New(s.pool).GetLiveBalance(r.Context(), u.AccountID); err == nil {
				data.BalanceCents, data.BalanceVersion = b.CachedBalanceCents, b.LiveVersion
			}
		}
		data.Zone = accounts.Location(u.User)
		if data.Tab != "admin" {
			data.AutoTopUpNotice = u.AutoTopUpNotice
		}
		data.Reauth = u.Role == "admin" && !s.passwordFresh(r)
	}
	data.Lang = langOf(r)
	data.Path = r.URL.Path
	if data.Flash == "" {
		data.Flash, data.FlashError = s.popFlash(r)
		data.Flash = flashText(data.Lang, data.Flash)
	}
	data.CSPNonce = cspNonce(r)
	data.Device = "twilio"
	if s.sim != nil {
		data.Device = "simulator"
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "base", data); err != nil {
		zerolog.Ctx(r.Context()).Error().Err(err).Str("page", page).Msg("render")
		http.Error(w, "Something went wrong on our side. Please try again.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}
