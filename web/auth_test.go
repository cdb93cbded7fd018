package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestSignUpSignOutSignIn(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	if r := b.get("/signup"); r.status != 200 || !strings.Contains(r.body, `name="home_country"`) {
		t.Fatalf("GET /signup: %d", r.status)
	}
	b.signUp("ama@example.com", "correct horse", "Ama")
	r := b.get("/call")
	if r.status != 200 || !strings.Contains(r.body, `aria-label="Keypad"`) || !strings.Contains(r.body, "$0.00") || !strings.Contains(r.body, "Welcome to Mobayilo, Ama!") {
		t.Fatalf("GET /call after sign-up: %d\n%s", r.status, r.body)
	}

	if r := b.post("/signout", nil); r.status != http.StatusSeeOther || r.location != "/signin" {
		t.Fatalf("sign out: %d %s", r.status, r.location)
	}
	if r := b.get("/call"); r.status != http.StatusSeeOther || r.location != "/signin?next=%2Fcall" {
		t.Fatalf("GET /call signed out: %d %s", r.status, r.location)
	}
	if r := b.post("/signin", url.Values{"email": {"AMA@example.com"}, "password": {"correct horse"}, "next": {"/history"}}); r.status != http.StatusSeeOther || r.location != "/history" {
		t.Fatalf("sign in: %d %s", r.status, r.location)
	}
	if r := b.get("/history"); r.status != 200 || !strings.Contains(r.body, `aria-current="page"`) {
		t.Fatalf("GET /history: %d", r.status)
	}
}

func TestSessionCookieIsHardened(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	r := b.post("/signup", url.Values{"email": {"c@example.com"}, "password": {"correct horse"}, "display_name": {"C"}, "home_country": {"GH"}})
	cookie := r.header.Get("Set-Cookie")
	for _, want := range []string{"mobayilo_session=", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("session cookie %q lacks %s", cookie, want)
		}
	}
}

func TestSignInDoesNotRedirectOffSite(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("d@example.com", "correct horse", "D")
	b.post("/signout", nil)
	for _, next := range []string{"//evil.example/x", "https://evil.example", "/\\evil.example"} {
		r := b.post("/signin", url.Values{"email": {"d@example.com"}, "password": {"correct horse"}, "next": {next}})
		if r.status != http.StatusSeeOther || r.location != "/call" {
			t.Errorf("next=%q: redirected to %q", next, r.location)
		}
		b.post("/signout", nil)
	}
}

func TestSignUpErrorsAreShownNextToFields(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	r := b.post("/signup", url.Values{"email": {"nope"}, "password": {"short"}, "display_name": {"Kofi"}, "home_country": {""}})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", r.status)
	}
	for _, want := range []string{`id="email-error"`, `id="password-error"`, `id="home_country-error"`, `value="Kofi"`, `aria-invalid="true"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("422 page lacks %s", want)
		}
	}
	if strings.Contains(r.body, `value="short"`) {
		t.Error("the password was echoed back into the form")
	}
}

func TestSignedOutVisitsRedirectToSignIn(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	for _, p := range []string{"/call", "/history", "/credits", "/settings"} {
		r := b.get(p)
		if r.status != http.StatusSeeOther || r.location != "/signin?next="+url.QueryEscape(p) {
			t.Errorf("GET %s signed out: %d %s", p, r.status, r.location)
		}
	}
	if r := b.post("/settings/password", url.Values{"current_password": {"x"}, "new_password": {"yyyyyyyyyy"}}); r.status != http.StatusSeeOther || r.location != "/signin" {
		t.Errorf("POST /settings/password signed out: %d %s", r.status, r.location)
	}
}

func TestCrossOriginPostIsRefused(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("e@example.com", "correct horse", "E")

	form := url.Values{"current_password": {"correct horse"}, "new_password": {"attacker chose this"}}
	for name, headers := range map[string]map[string]string{
		"foreign Origin":            {"Origin": "https://evil.example"},
		"cross-site Sec-Fetch-Site": {"Sec-Fetch-Site": "cross-site"},
	} {
		req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/settings/password", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		if r := b.do(req); r.status != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", name, r.status)
		}
	}
	// The password did not change.
	other := a.browser()
	if r := other.signIn("e@example.com", "correct horse"); r.status != http.StatusSeeOther {
		t.Fatalf("the old password no longer works: %d", r.status)
	}
}

func TestTenthWrongPasswordIsThrottled(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("f@example.com", "correct horse", "F")
	b.post("/signout", nil)
	for i := 1; i <= 9; i++ {
		if r := b.signIn("f@example.com", "wrong password"); r.status != http.StatusUnprocessableEntity {
			t.Fatalf("wrong password %d: %d", i, r.status)
		}
	}
	r := b.signIn("f@example.com", "wrong password")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "Too many failed attempts") {
		t.Fatalf("tenth wrong password: %d Retry-After=%q", r.status, r.header.Get("Retry-After"))
	}
	if r := b.signIn("f@example.com", "correct horse"); r.status != http.StatusTooManyRequests {
		t.Fatalf("right password while throttled: %d", r.status)
	}
}

func TestUnknownEmailAndWrongPasswordLookTheSame(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("g@example.com", "correct horse", "G")
	b.post("/signout", nil)
	wrong := b.signIn("g@example.com", "wrong password")
	unknown := b.signIn("nobody@example.com", "wrong password")
	if wrong.status != unknown.status || !strings.Contains(unknown.body, "do not match an account") || !strings.Contains(wrong.body, "do not match an account") {
		t.Fatalf("responses differ: %d vs %d", wrong.status, unknown.status)
	}
	// Asking for a reset says the same for both.
	r1 := b.post("/password/forgot", url.Values{"email": {"g@example.com"}})
	r2 := b.post("/password/forgot", url.Values{"email": {"nobody@example.com"}})
	if r1.status != r2.status || r1.location != r2.location {
		t.Fatalf("forgot-password answers differ: %d %s vs %d %s", r1.status, r1.location, r2.status, r2.location)
	}
	a.resetLink("g@example.com")
	time.Sleep(100 * time.Millisecond)
	if len(a.mailbox.Messages()) != 1 {
		t.Fatalf("%d emails sent, want 1", len(a.mailbox.Messages()))
	}
}

func TestResetByEmailLinkWorksOnceAndSignsOutOtherDevices(t *testing.T) {
	a := newApp(t, nil)
	phone := a.browser()
	phone.signUp("h@example.com", "correct horse", "H")
	laptop := a.browser()
	if r := laptop.signIn("h@example.com", "correct horse"); r.status != http.StatusSeeOther {
		t.Fatal("laptop sign-in")
	}

	stranger := a.browser()
	if r := stranger.post("/password/forgot", url.Values{"email": {"H@example.com"}}); r.status != http.StatusSeeOther || r.location != "/signin" {
		t.Fatalf("forgot: %d %s", r.status, r.location)
	}
	link := a.resetLink("h@example.com")
	u, _ := url.Parse(link)
	path := u.RequestURI()
	if r := stranger.get(path); r.status != 200 || !strings.Contains(r.body, `name="token"`) {
		t.Fatalf("GET reset link: %d", r.status)
	}
	if r := stranger.post("/password/reset", url.Values{"token": {u.Query().Get("token")}, "password": {"short"}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("short password: %d", r.status)
	}
	if r := stranger.post("/password/reset", url.Values{"token": {u.Query().Get("token")}, "password": {"a new secret"}}); r.status != http.StatusSeeOther || r.location != "/call" {
		t.Fatalf("reset: %d %s", r.status, r.location)
	}
	if r := stranger.get("/call"); r.status != 200 {
		t.Fatalf("signed in after reset: %d", r.status)
	}
	// The link works once.
	if r := stranger.get(path); r.status != http.StatusGone {
		t.Fatalf("reused link: %d", r.status)
	}
	if r := stranger.post("/password/reset", url.Values{"token": {u.Query().Get("token")}, "password": {"third secret"}}); r.status != http.StatusGone {
		t.Fatalf("reused link POST: %d", r.status)
	}
	// Devices signed in with the old password are signed out.
	for name, b := range map[string]*browser{"phone": phone, "laptop": laptop} {
		if r := b.get("/call"); r.status != http.StatusSeeOther {
			t.Errorf("%s still signed in after the reset: %d", name, r.status)
		}
	}
	if r := phone.signIn("h@example.com", "a new secret"); r.status != http.StatusSeeOther {
		t.Fatalf("sign in with the new password: %d", r.status)
	}

	// An expired link does not work.
	stranger.post("/password/forgot", url.Values{"email": {"h@example.com"}})
	expired, _ := url.Parse(a.resetLink("h@example.com"))
	if _, err := a.pool.Exec(t.Context(), `UPDATE password_resets SET expires_at = now() - interval '1 minute' WHERE used_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	if r := stranger.get(expired.RequestURI()); r.status != http.StatusGone || !strings.Contains(r.body, "expired") {
		t.Fatalf("expired link: %d", r.status)
	}
}

func TestChangePasswordAndEmail(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("i@example.com", "correct horse", "I")
	other := a.browser()
	other.signIn("i@example.com", "correct horse")

	if r := b.post("/settings/password", url.Values{"current_password": {"wrong"}, "new_password": {"next password"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "not your current password") {
		t.Fatalf("wrong current password: %d", r.status)
	}
	if r := b.post("/settings/password", url.Values{"current_password": {"correct horse"}, "new_password": {"next password"}}); r.status != http.StatusSeeOther || r.location != "/settings" {
		t.Fatalf("change password: %d %s", r.status, r.location)
	}
	if r := b.get("/settings"); r.status != 200 || !strings.Contains(r.body, "Your password is changed") {
		t.Fatalf("this device after the change: %d", r.status)
	}
	if r := other.get("/settings"); r.status != http.StatusSeeOther {
		t.Fatalf("other device after the change: %d", r.status)
	}

	if r := b.post("/settings/email", url.Values{"email": {"i.new@example.com"}, "password": {"correct horse"}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("email change with the old password: %d", r.status)
	}
	if r := b.post("/settings/email", url.Values{"email": {"I.New@example.com"}, "password": {"next password"}}); r.status != http.StatusSeeOther {
		t.Fatalf("email change: %d", r.status)
	}
	if r := b.get("/settings"); !strings.Contains(r.body, "i.new@example.com") {
		t.Fatal("settings does not show the new email")
	}
}

func TestOneUserCannotReadAnothersSettings(t *testing.T) {
	a := newApp(t, nil)
	ann, ben := a.browser(), a.browser()
	ann.signUp("ann@example.com", "correct horse", "Ann Secret")
	ben.signUp("ben@example.com", "correct horse", "Ben")
	r := ben.get("/settings")
	if r.status != 200 || !strings.Contains(r.body, "ben@example.com") {
		t.Fatalf("ben's settings: %d", r.status)
	}
	if strings.Contains(r.body, "ann@example.com") || strings.Contains(r.body, "Ann Secret") {
		t.Fatal("ben's settings show ann's data")
	}
	// Ben changing "his" email cannot touch Ann's account.
	ben.post("/settings/email", url.Values{"email": {"ben2@example.com"}, "password": {"correct horse"}})
	if r := ann.get("/settings"); !strings.Contains(r.body, "ann@example.com") {
		t.Fatal("ann's email changed")
	}
}

func TestPagesCarrySecurityHeaders(t *testing.T) {
	a := newApp(t, nil)
	r := a.browser().get("/signin")
	csp := r.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %s", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline or eval: %s", csp)
	}
	// Turbo's progress bar style gets the per-request nonce, through the page.
	m := regexp.MustCompile(`'nonce-([A-Za-z0-9_-]+)'`).FindStringSubmatch(csp)
	if m == nil || !strings.Contains(r.body, `<meta name="csp-nonce" content="`+m[1]+`">`) {
		t.Errorf("no matching style nonce in CSP %q and page", csp)
	}
	if again := a.browser().get("/signin"); strings.Contains(again.header.Get("Content-Security-Policy"), m[1]) {
		t.Error("the nonce is reused across requests")
	}
	if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", r.header)
	}
	if r.header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over plain http in test")
	}
}

func TestNotFoundPageIsStyled(t *testing.T) {
	a := newApp(t, nil)
	r := a.browser().get("/no-such-page")
	if r.status != 404 || !strings.Contains(r.body, "Page not found") || !strings.Contains(r.body, "/assets/app.") {
		t.Fatalf("404: %d\n%s", r.status, r.body)
	}
}
