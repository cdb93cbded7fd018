package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// signInFrom posts a sign-in as it reaches us through a proxy that set
// X-Forwarded-For to xff ("" sends none).
func (b *browser) signInFrom(xff, email, password string) response {
	b.t.Helper()
	form := url.Values{"email": {email}, "password": {password}}
	req, _ := http.NewRequest(http.MethodPost, b.a.srv.URL+"/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.a.srv.URL)
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	return b.do(req)
}

// Behind our proxy (the test server's peer, loopback, is trusted), one
// attacker's hundred failures lock out the attacker, not everyone: the
// address that counts is the one our proxy saw, whatever the attacker
// writes further left.
func TestBehindATrustedProxyOneAttackerDoesNotLockOutEveryone(t *testing.T) {
	a := newApp(t, map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32, 10.0.0.0/8"})
	victim := a.browser()
	victim.signUp("victim@example.com", "correct horse", "Victim")
	victim.post("/signout", nil)

	attacker := a.browser()
	for i := 1; i <= 100; i++ {
		// The left-most entries are the attacker's own, different each
		// time; 203.0.113.9 is what our proxy saw; 10.1.2.3 is our
		// second proxy.
		xff := fmt.Sprintf("198.18.0.%d, 203.0.113.9, 10.1.2.3", i)
		r := attacker.signInFrom(xff, fmt.Sprintf("guess%d@example.com", i), "wrong password")
		want := http.StatusUnprocessableEntity
		if i == 100 {
			want = http.StatusTooManyRequests
		}
		if r.status != want {
			t.Fatalf("failed sign-in %d from the attacker: %d, want %d", i, r.status, want)
		}
	}
	if r := attacker.signInFrom("203.0.113.9", "victim@example.com", "correct horse"); r.status != http.StatusTooManyRequests {
		t.Fatalf("the attacker's address after 100 failures: %d, want 429", r.status)
	}
	if r := victim.signInFrom("198.51.100.20", "victim@example.com", "correct horse"); r.status != http.StatusSeeOther {
		t.Fatalf("the victim, from another address, after the attack: %d, want 303", r.status)
	}
}

// A peer that is not our proxy writes what it likes in X-Forwarded-For:
// it is ignored, and every attempt counts against the peer.
func TestUntrustedPeersForwardedForIsIgnored(t *testing.T) {
	a := newApp(t, map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8", "SIGNIN_MAX_FAILURES_PER_ADDRESS": "5"})
	b := a.browser()
	for i := 1; i <= 5; i++ {
		b.signInFrom(fmt.Sprintf("198.18.1.%d", i), fmt.Sprintf("who%d@example.com", i), "wrong password")
	}
	if r := b.signInFrom("198.18.1.200", "who6@example.com", "wrong password"); r.status != http.StatusTooManyRequests {
		t.Fatalf("a sixth failure under a new X-Forwarded-For from an untrusted peer: %d, want 429", r.status)
	}
}

// IPv6 addresses count per /64: hopping within one's own block does not
// buy more guesses, and a neighbouring block is not held to them.
func TestIPv6AddressesInOneSlash64ShareABucket(t *testing.T) {
	a := newApp(t, map[string]string{"TRUSTED_PROXIES": "127.0.0.1", "SIGNIN_MAX_FAILURES_PER_ADDRESS": "5"})
	b := a.browser()
	for i := 1; i <= 5; i++ {
		b.signInFrom(fmt.Sprintf("2001:db8:1:2::%x", i), fmt.Sprintf("v6-%d@example.com", i), "wrong password")
	}
	if r := b.signInFrom("2001:db8:1:2:ffff:ffff:ffff:fffe", "v6-6@example.com", "wrong password"); r.status != http.StatusTooManyRequests {
		t.Fatalf("another address of the same /64: %d, want 429", r.status)
	}
	if r := b.signInFrom("2001:db8:1:3::1", "v6-7@example.com", "wrong password"); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("an address of the next /64: %d, want 422", r.status)
	}
}
