package web_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
)

// fuzzAddr gives each input its own client address, so that the per-address
// limits (sign-in, sign-up) do not turn every later input into a 429.
var fuzzAddrs atomic.Uint32

func fuzzRemoteAddr() string {
	n := fuzzAddrs.Add(1)
	return fmt.Sprintf("10.%d.%d.%d:40000", byte(n>>16), byte(n>>8), byte(n))
}

// noise is n letters and digits that do not compress (as a stranger's
// garbage does not), the same every run.
func noise(n int) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[rng.IntN(len(chars))]
	}
	return string(b)
}

// formSeeds are bodies for a form with the given good values: as they are,
// each field missing, emptied, repeated, huge, with a NUL, and with invalid
// UTF-8.
func formSeeds(good url.Values) []string {
	out := []string{good.Encode(), "", "%", "a=%zz", "a;b=c", strings.Repeat("x=y&", 2000)}
	copyOf := func() url.Values {
		v := url.Values{}
		for k, vals := range good {
			v[k] = append([]string(nil), vals...)
		}
		return v
	}
	keys := make([]string, 0, len(good))
	for k := range good {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, vals := range [][]string{nil, {""}, {good.Get(k), "other"}, {"other", good.Get(k)},
			{noise(5000) + "@example.com"}, {strings.Repeat("é", 30000)}, {good.Get(k) + "\x00"}, {"\xff\xfe" + good.Get(k)}, {" " + strings.ToUpper(good.Get(k)) + " "}} {
			v := copyOf()
			if vals == nil {
				delete(v, k)
			} else {
				v[k] = vals
			}
			out = append(out, v.Encode())
		}
	}
	return out
}

// FuzzSignUp sends the sign-up form with random, missing, repeated and huge
// fields: never a 5xx, and a refusal creates no user, wallet or entry.
func FuzzSignUp(f *testing.F) {
	fa := newFuzzApp(f, nil, nil, nil)
	fa.browser().signUp("taken@example.com", "correct horse", "Taken")
	for _, body := range formSeeds(url.Values{"email": {"new@example.com"}, "password": {"correct horse"}, "display_name": {"Ada Obi"}, "home_country": {"NG"}}) {
		f.Add(body)
	}
	f.Add(url.Values{"email": {"taken@example.com"}, "password": {"correct horse"}, "display_name": {"Again"}, "home_country": {"NG"}}.Encode())
	f.Add(url.Values{"email": {"TAKEN@example.com "}, "password": {"correct horse"}, "display_name": {"Again"}, "home_country": {"ng"}}.Encode())
	f.Add(url.Values{"email": {"x@example.com"}, "password": {"correct horse"}, "display_name": {"X"}, "home_country": {"ZZ"}}.Encode())

	f.Fuzz(func(t *testing.T, body string) {
		before := fa.snapshot(t)
		req := fa.formRequest("/signup", body, nil)
		req.RemoteAddr = fuzzRemoteAddr()
		rec := fa.serve(req)
		fa.check(t, fmt.Sprintf("sign-up %q", truncate(body, 300)), rec, before)
		if rec.Code != http.StatusSeeOther && rec.Code != http.StatusUnprocessableEntity && rec.Code != http.StatusBadRequest && rec.Code != http.StatusTooManyRequests {
			t.Fatalf("sign-up %q: status %d", truncate(body, 300), rec.Code)
		}
	})
}

// FuzzSignIn sends the sign-in form with random, missing, repeated and huge
// fields: never a 5xx, and no account changes.
func FuzzSignIn(f *testing.F) {
	fa := newFuzzApp(f, nil, nil, nil)
	fa.browser().signUp("known@example.com", "correct horse", "Known")
	for _, body := range formSeeds(url.Values{"email": {"known@example.com"}, "password": {"correct horse"}, "next": {"/history"}}) {
		f.Add(body)
	}
	f.Add(url.Values{"email": {"known@example.com"}, "password": {"wrong horse"}}.Encode())
	f.Add(url.Values{"email": {"nobody@example.com"}, "password": {"correct horse"}}.Encode())
	f.Add(url.Values{"email": {"known@example.com"}, "password": {"correct horse"}, "next": {"//evil.example"}}.Encode())
	f.Add(url.Values{"email": {noise(4096) + "@example.com"}, "password": {"x"}}.Encode())

	f.Fuzz(func(t *testing.T, body string) {
		before := fa.snapshot(t)
		req := fa.formRequest("/signin", body, nil)
		req.RemoteAddr = fuzzRemoteAddr()
		rec := fa.serve(req)
		what := fmt.Sprintf("sign-in %q", truncate(body, 300))
		fa.check(t, what, rec, before)
		// Signing in changes no account, whatever its outcome.
		if after := fa.snapshot(t); after != before {
			t.Fatalf("%s: %d changed the database:\nbefore %s\nafter  %s", what, rec.Code, before, after)
		}
		if loc := rec.Header().Get("Location"); rec.Code == http.StatusSeeOther && (!strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//")) {
			t.Fatalf("%s: redirected off the site to %q", what, loc)
		}
	})
}

// FuzzSettings sends the change-password and change-email forms of a
// signed-in user with random, missing, repeated and huge fields: never a
// 5xx, and a refusal changes nothing. A change that succeeds is undone, so
// every input meets the same account.
func FuzzSettings(f *testing.F) {
	fa := newFuzzApp(f, nil, nil, nil)
	const email, password = "settings@example.com", "correct horse"
	b := fa.browser()
	b.signUp(email, password, "Settings")
	fa.browser().signUp("other@example.com", password, "Other")
	cookie := b.sessionCookie()

	for _, body := range formSeeds(url.Values{"current_password": {password}, "new_password": {"battery staple"}}) {
		f.Add(false, body)
	}
	for _, body := range formSeeds(url.Values{"password": {password}, "email": {"renamed@example.com"}}) {
		f.Add(true, body)
	}
	f.Add(true, url.Values{"password": {password}, "email": {"other@example.com"}}.Encode())
	f.Add(true, url.Values{"password": {password}, "email": {" OTHER@example.com"}}.Encode())
	f.Add(true, url.Values{"password": {password}, "email": {email}}.Encode())
	f.Add(false, url.Values{"current_password": {password}, "new_password": {"short"}}.Encode())
	f.Add(false, url.Values{"current_password": {"wrong horse"}, "new_password": {"battery staple"}}.Encode())

	post := func(t *testing.T, path, body string) *httptest.ResponseRecorder {
		req := fa.formRequest(path, body, cookie)
		req.RemoteAddr = fuzzRemoteAddr()
		rec := fa.serve(req)
		for _, c := range rec.Result().Cookies() {
			if c.Name == cookie.Name && c.Value != "" && c.MaxAge >= 0 {
				cookie = c
			}
		}
		return rec
	}
	f.Fuzz(func(t *testing.T, changeEmail bool, body string) {
		path := "/settings/password"
		if changeEmail {
			path = "/settings/email"
		}
		before := fa.snapshot(t)
		rec := post(t, path, body)
		what := fmt.Sprintf("%s %q", path, truncate(body, 300))
		fa.check(t, what, rec, before)
		if rec.Code == http.StatusSeeOther && rec.Header().Get("Location") != "/settings" {
			t.Fatalf("%s: signed out or sent elsewhere (%s): the session was lost", what, rec.Header().Get("Location"))
		}
		if rec.Code != http.StatusSeeOther {
			return
		}
		// It worked: put the account back as it was.
		form, _ := url.ParseQuery(body)
		var undo *httptest.ResponseRecorder
		if changeEmail {
			undo = post(t, "/settings/email", url.Values{"password": {password}, "email": {email}}.Encode())
		} else {
			undo = post(t, "/settings/password", url.Values{"current_password": {form.Get("new_password")}, "new_password": {password}}.Encode())
		}
		if undo.Code != http.StatusSeeOther {
			t.Fatalf("%s worked, but undoing it answered %d: %s\n%s", what, undo.Code, truncate(undo.Body.String(), 1000), fa.logs.take())
		}
	})
}
