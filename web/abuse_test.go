package web_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// An email far past the longest real one (254 characters) is a clear
// refusal everywhere, never a server error, and counts against nothing.
func TestHugeEmailIsRefusedNotAServerError(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	// Random, so Postgres cannot compress it under its index's row limit.
	raw := make([]byte, 2048)
	_, _ = rand.Read(raw)
	huge := hex.EncodeToString(raw) + "@example.com"
	if r := b.post("/signin", url.Values{"email": {huge}, "password": {"whatever it is"}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("POST /signin with a 4 KB email: %d, want 422", r.status)
	}
	if r := b.post("/password/forgot", url.Values{"email": {huge}}); r.status != http.StatusSeeOther {
		t.Fatalf("POST /password/forgot with a 4 KB email: %d, want 303", r.status)
	}
	if r := b.post("/signup", url.Values{"email": {huge}, "password": {"correct horse"}, "display_name": {"H"}, "home_country": {"NG"}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("POST /signup with a 4 KB email: %d, want 422", r.status)
	}
	if n := a.count(`SELECT count(*) FROM sign_in_failures WHERE length(key) > 254`); n != 0 {
		t.Fatalf("%d counters keyed by the huge email", n)
	}
}

func TestSignUpIsThrottledPerAddress(t *testing.T) {
	a := newApp(t, map[string]string{"SIGNUP_MAX_PER_ADDRESS_PER_HOUR": "2"})
	a.browser().signUp("one@example.com", "correct horse", "One")
	a.browser().signUp("two@example.com", "correct horse", "Two")
	r := a.browser().post("/signup", url.Values{"email": {"three@example.com"}, "password": {"correct horse"}, "display_name": {"Three"}, "home_country": {"NG"}})
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "Too many accounts") {
		t.Fatalf("third sign-up from one address: %d Retry-After=%q", r.status, r.header.Get("Retry-After"))
	}
	if n := a.count(`SELECT count(*) FROM users WHERE email = 'three@example.com'`); n != 0 {
		t.Fatal("the refused sign-up made an account")
	}
}

// postFrom posts a form as a browser behind our proxy at address addr.
func (b *browser) postFrom(addr, path string, form url.Values) response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.a.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.a.srv.URL)
	req.Header.Set("X-Forwarded-For", addr)
	return b.do(req)
}

func TestPasswordResetRequestsAreThrottledPerEmailAndPerAddress(t *testing.T) {
	a := newApp(t, map[string]string{"TRUSTED_PROXIES": "127.0.0.1", "RESET_MAX_PER_EMAIL_PER_HOUR": "2", "RESET_MAX_PER_ADDRESS_PER_HOUR": "4"})
	a.browser().signUp("reset.me@example.com", "correct horse", "R")
	b := a.browser()
	// Per email: the third request within the hour is refused, from
	// wherever it comes, and the same for an email with no account.
	for _, email := range []string{"reset.me@example.com", "no.account@example.com"} {
		for i, addr := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
			r := b.postFrom(addr, "/password/forgot", url.Values{"email": {email}})
			want := http.StatusSeeOther
			if i == 2 {
				want = http.StatusTooManyRequests
			}
			if r.status != want {
				t.Fatalf("reset request %d for %s: %d, want %d", i+1, email, r.status, want)
			}
		}
	}
	a.resetLink("reset.me@example.com")
	a.resetLink("reset.me@example.com")
	time.Sleep(100 * time.Millisecond)
	if n := len(a.mailbox.Messages()); n != 2 {
		t.Fatalf("%d reset emails sent, want 2", n)
	}
	// Per address: the fifth request from one address, each for another
	// email, is refused.
	for i := 1; i <= 5; i++ {
		r := b.postFrom("203.0.113.50", "/password/forgot", url.Values{"email": {fmt.Sprintf("someone%d@example.com", i)}})
		want := http.StatusSeeOther
		if i == 5 {
			want = http.StatusTooManyRequests
		}
		if r.status != want {
			t.Fatalf("reset request %d from one address: %d, want %d", i, r.status, want)
		}
	}
}

// Guessing the password through Settings is counted with sign-in's
// failures: the tenth wrong guess locks both, for whoever holds the
// session and for sign-in elsewhere.
func TestSettingsPasswordChecksAreThrottledLikeSignIn(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("guarded@example.com", "correct horse", "G")
	for i := 1; i <= 9; i++ {
		path, form := "/settings/password", url.Values{"current_password": {"wrong guess"}, "new_password": {"attacker password"}}
		if i%2 == 0 {
			path, form = "/settings/email", url.Values{"password": {"wrong guess"}, "email": {"attacker@example.com"}}
		}
		if r := b.post(path, form); r.status != http.StatusUnprocessableEntity {
			t.Fatalf("wrong current password %d on %s: %d", i, path, r.status)
		}
	}
	r := b.post("/settings/password", url.Values{"current_password": {"wrong guess"}, "new_password": {"attacker password"}})
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "Too many wrong passwords") {
		t.Fatalf("tenth wrong current password: %d", r.status)
	}
	if r := b.post("/settings/email", url.Values{"password": {"correct horse"}, "email": {"attacker@example.com"}}); r.status != http.StatusTooManyRequests {
		t.Fatalf("the right password while throttled: %d", r.status)
	}
	if r := a.browser().signIn("guarded@example.com", "correct horse"); r.status != http.StatusTooManyRequests {
		t.Fatalf("sign-in after ten wrong guesses in settings: %d", r.status)
	}
	if n := a.count(`SELECT count(*) FROM users WHERE email = 'guarded@example.com'`); n != 1 {
		t.Fatal("the email changed")
	}
}

func TestTopUpAttemptsAreCappedPerUserPerHour(t *testing.T) {
	a := newApp(t, map[string]string{"TOPUP_MAX_PER_HOUR": "2"})
	b := a.browser()
	b.signUp("tester@example.com", "correct horse", "T")
	// Temporal is unreachable here: each attempt makes a top-up, which is
	// cancelled, and counts.
	for i := 1; i <= 2; i++ {
		if r := b.post("/credits/purchase", url.Values{"package": {"500"}}); r.status != http.StatusServiceUnavailable {
			t.Fatalf("top-up attempt %d: %d", i, r.status)
		}
	}
	r := b.post("/credits/purchase", url.Values{"package": {"1000"}})
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "started 2 top-ups in the last hour") {
		t.Fatalf("third top-up attempt in an hour: %d", r.status)
	}
	if n := a.count(`SELECT count(*) FROM topups`); n != 2 {
		t.Fatalf("%d top-ups, want 2", n)
	}
	// The limit is the user's, not everyone's.
	other := a.browser()
	other.signUp("honest@example.com", "correct horse", "H")
	if r := other.post("/credits/purchase", url.Values{"package": {"500"}}); r.status != http.StatusServiceUnavailable {
		t.Fatalf("another user's top-up: %d", r.status)
	}
}

var confirmPattern = regexp.MustCompile(`http://[^\s]+/email/confirm\?token=[A-Za-z0-9_-]+`)

func (a *app) confirmLink(addr string) string {
	a.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, m := range a.mailbox.Messages() {
			if link := confirmPattern.FindString(m.Text); m.To == addr && link != "" {
				return link
			}
		}
	}
	a.t.Fatalf("no confirmation email to %s", addr)
	return ""
}

func TestSignUpBonusIsCreditedOnlyOnceTheEmailIsConfirmed(t *testing.T) {
	a := newApp(t, map[string]string{"SIGNUP_BONUS_CENTS": "150"})
	b := a.browser()
	b.signUp("bonus@example.com", "correct horse", "Bo")
	if r := b.get("/call"); !strings.Contains(r.body, "$0.00") || !strings.Contains(r.body, "confirm your address") {
		t.Fatalf("before confirming: want $0.00 and the confirmation note\n%s", r.body)
	}
	link, _ := url.Parse(a.confirmLink("bonus@example.com"))
	token := link.Query().Get("token")
	// Opening the link (a mail scanner may) only shows the button.
	if r := a.browser().get(link.RequestURI()); r.status != 200 || !strings.Contains(r.body, `name="token"`) {
		t.Fatalf("GET the link: %d", r.status)
	}
	if n := a.count(`SELECT count(*) FROM transactions`); n != 0 {
		t.Fatalf("%d ledger entries before confirming", n)
	}
	if r := b.post("/email/confirm", url.Values{"token": {token}}); r.status != http.StatusSeeOther || r.location != "/call" {
		t.Fatalf("confirm: %d %s", r.status, r.location)
	}
	if r := b.get("/call"); !strings.Contains(r.body, "$1.50") {
		t.Fatal("the bonus is not in the balance after confirming")
	}
	if r := b.post("/email/confirm", url.Values{"token": {token}}); r.status != http.StatusGone {
		t.Fatalf("confirming twice: %d", r.status)
	}
	if r := a.browser().get(link.RequestURI()); r.status != http.StatusGone {
		t.Fatalf("the used link: %d", r.status)
	}
	if n := a.count(`SELECT count(*) FROM transactions WHERE kind = 'bonus'`); n != 1 {
		t.Fatalf("%d bonus entries, want 1", n)
	}
	if n := a.count(`SELECT cached_balance_cents::int FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.email = 'bonus@example.com'`); n != 150 {
		t.Fatalf("balance %d, want 150", n)
	}
}
