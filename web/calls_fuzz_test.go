package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/mobayilo/mobayilo/activities"
	"github.com/mobayilo/mobayilo/internal/devserver"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/internal/temporalx"
	"github.com/mobayilo/mobayilo/internal/testdb"
)

// FuzzStartCall sends POST /calls arbitrary JSON from a signed-in user with
// no money and from one with some, through the whole authorization (a real
// Temporal dev server and worker, started once): never a 5xx, and a refusal
// moves no money and holds no call slot (the call workflow records the
// calls it refuses as refused, by design).
func FuzzStartCall(f *testing.F) {
	pool := testdb.New(f)
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	if _, err := ratedeck.LoadSampleIfEmpty(ctx, pool); err != nil {
		f.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		f.Fatal(err)
	}
	srv, err := devserver.Start(ctx, devserver.Options{Port: port, UIPort: -1, DBFile: filepath.Join(f.TempDir(), "temporal.db"), Output: io.Discard})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Stop() })
	tc, err := temporalx.Dial(ctx, temporalx.Options{Address: srv.Address, Namespace: "default", Logger: zerolog.Nop()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(tc.Close)
	queue := "fuzz-calls-" + uuid.NewString()
	// A short authorization window, so that an authorized call frees its
	// user's slot soon.
	fa := newFuzzApp(f, map[string]string{"TEMPORAL_TASK_QUEUE": queue, "CALL_AUTHORIZATION_WINDOW": "10s"}, pool, tc)
	rates, err := ratedeck.NewStore(ctx, pool, zerolog.Nop())
	if err != nil {
		f.Fatal(err)
	}
	acts := activities.New(pool)
	acts.Rates = rates
	acts.Rules = rating.NewRules(fa.cfg.AllowedCountries, fa.cfg.BlockedPrefixes, fa.cfg.MaxCallSeconds, fa.cfg.DailySpendLimitCents, fa.cfg.DailyCallLimit)
	w := temporalx.NewWorker(tc, queue, acts, zerolog.Nop())
	if err := w.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(w.Stop)

	broke, funded := fa.browser(), fa.browser()
	broke.signUp("broke@example.com", "correct horse", "Broke")
	funded.signUp("funded@example.com", "correct horse", "Funded")
	var account uuid.UUID
	if err := pool.QueryRow(ctx, `SELECT a.id FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.email = 'funded@example.com'`).Scan(&account); err != nil {
		f.Fatal(err)
	}
	if _, err := ledger.New(pool).Post(ctx, ledger.Entry{Key: "bonus:fuzz", AccountID: account, Kind: ledger.Bonus, AmountCents: 500}); err != nil {
		f.Fatal(err)
	}
	cookies := map[bool]*http.Cookie{false: broke.sessionCookie(), true: funded.sessionCookie()}
	// A refusal moves no money and leaves no call but a refused one; the
	// abandonment timer may cancel an authorized call meanwhile.
	fa.digests = []string{digestSQL("users"), digestSQL("accounts"), digestSQL("transactions"), digestSQL("webhook_events"),
		`SELECT count(*) FILTER (WHERE status <> 'refused')::text FROM calls`}

	for _, body := range []string{
		`{"phone_number":"+2348031234567"}`,
		`{"phone_number":"0803 123 4567"}`,
		`{"phone_number":"+1 268 464 1234"}`,
		`{"phone_number":"112"}`,
		`{"phone_number":"+1 900 555 0199"}`,
		`{"phone_number":"+999"}`,
		`{"phone_number":""}`,
		`{"phone_number":null}`,
		`{"phone_number":2348031234567}`,
		`{"phone_number":["+2348031234567"]}`,
		`{"phone_number":"+2348031234567","phone_number":"+447700900123"}`,
		`{"phone_number":"+2348031234567","extra":{"a":[1,2,3]}}`,
		`{"PHONE_NUMBER":"+2348031234567"}`,
		`{"phone_number":"` + strings.Repeat("9", 5000) + `"}`,
		`{"phone_number":"+234\u0000803"}`,
		`{"phone_number":"\ud800"}`,
		`{"phone_number":"+2348031234567"} trailing`,
		`{"phone_number":"+2348031234567"`,
		`[]`, `null`, `""`, ``, `{}`, "\xff",
	} {
		f.Add(false, body)
		f.Add(true, body)
	}

	f.Fuzz(func(t *testing.T, funded bool, body string) {
		req := httptest.NewRequest(http.MethodPost, "/calls", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", fa.srv.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.AddCookie(cookies[funded])
		before := fa.snapshot(t)
		rec := fa.serve(req)
		what := fmt.Sprintf("POST /calls (funded %v) %q", funded, truncate(body, 300))
		fa.check(t, what, rec, before)
		switch rec.Code {
		case http.StatusCreated, http.StatusBadRequest, http.StatusPaymentRequired, http.StatusConflict, http.StatusUnprocessableEntity:
		default:
			t.Fatalf("%s: status %d: %s", what, rec.Code, truncate(rec.Body.String(), 1000))
		}
		if !funded && rec.Code == http.StatusCreated {
			t.Fatalf("%s: a wallet with nothing in it was authorized a call", what)
		}
	})
}
