package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"
	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/mobayilo/mobayilo/internal/codec"
	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/web"
	"github.com/mobayilo/mobayilo/web/webtest"
)

// TestTemporalUIDecodesInTheStaffBrowser is the Temporal UI's codec call as
// Chromium makes it: a page on another loopback port (the UI, at
// TEMPORAL_UI_URL) posts an encrypted payload to the app's
// /admin/temporal-codec/{namespace}/decode with credentials included. In
// the browser where an admin signed in to the app, the session cookie
// (SameSite=Lax: the same site, 127.0.0.1) goes with it, the CORS answer
// lets the page read the number; in a browser with no session the page
// reads a 404 and no number.
func TestTemporalUIDecodesInTheStaffBrowser(t *testing.T) {
	const number = "+2348031234567"
	const keys = "test-1:3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGho="
	execPath := chromiumPath(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	k, err := codec.ParseKeys(keys)
	if err != nil {
		t.Fatal(err)
	}
	p, err := codec.New(k).DataConverter().ToPayload(number)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{p}})
	if err != nil || strings.Contains(string(sealed), number) {
		t.Fatalf("sealed payload %s: %v", sealed, err)
	}

	appSrv := httptest.NewUnstartedServer(nil)
	base := "http://" + appSrv.Listener.Addr().String()
	// The UI's page: what the Temporal UI's codec call does, its outcome
	// written into #out.
	uiSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>UI</title><pre id="out">pending</pre><script>
fetch(%q, {method: "POST", credentials: "include", headers: {"Content-Type": "application/json", "X-Namespace": "default"}, body: %q})
  .then(async r => { const text = await r.text(); let decoded = "";
    if (r.ok) { decoded = atob(JSON.parse(text).payloads[0].data); }
    document.getElementById("out").textContent = "status " + r.status + " " + decoded; })
  .catch(e => { document.getElementById("out").textContent = "error " + e; });
</script>`, base+"/admin/temporal-codec/default/decode", string(sealed))
	}))
	t.Cleanup(uiSrv.Close)

	pool := testdb.New(t)
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"APP_ENV": "test", "PUBLIC_BASE_URL": base, "TEMPORAL_CODEC_KEYS": keys, "TEMPORAL_UI_URL": uiSrv.URL}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	s := webtest.New(t, web.Deps{Config: cfg, Pool: pool, Temporal: lazyTemporal(t, closedAddress(t)),
		Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), Mailer: mail.NewMailbox(zerolog.Nop()),
		Rules: rating.NewRules(cfg.AllowedCountries, cfg.BlockedPrefixes, cfg.MaxCallSeconds, cfg.DailySpendLimitCents, cfg.DailyCallLimit)})
	appSrv.Config.Handler = s.Handler()
	appSrv.Start()
	t.Cleanup(appSrv.Close)

	const staffEmail, password = "codec.staff@example.com", "correct horse battery"
	signUpOverHTTP(t, base, staffEmail, password, "Staff")
	if _, err := pool.Exec(ctx, `UPDATE users SET role = 'admin' WHERE email = $1`, staffEmail); err != nil {
		t.Fatal(err)
	}
	decodeIn := func(b *browser) string {
		t.Helper()
		b.do(chromedp.Navigate(uiSrv.URL + "/"))
		b.waitFor("the UI page's codec call", `document.getElementById("out")?.textContent !== "pending"`)
		return b.eval(`document.getElementById("out").textContent`)
	}

	// No session in this browser: a 404 the page can read, and no number.
	if out := decodeIn(startBrowser(t, ctx, execPath)); out != "status 404 " {
		t.Fatalf("the UI's decode in a browser with no Mobayilo session: %q, want a 404 and no number", out)
	}

	// The staff member signs in to the app, then opens the UI.
	b := startBrowser(t, ctx, execPath)
	b.do(chromedp.Navigate(base + "/signin"))
	b.waitFor("the sign-in form", `!!document.querySelector('form[action="/signin"] #email')`)
	b.do(
		chromedp.SendKeys(chromedp.CSS(`form[action="/signin"] #email`), staffEmail),
		chromedp.SendKeys(chromedp.CSS(`form[action="/signin"] #password`), password),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type="submit"]`)),
	)
	b.waitFor("/call after signing in", `location.pathname === "/call"`)
	if out, want := decodeIn(b), `status 200 "`+number+`"`; out != want {
		t.Fatalf("the UI's decode in the admin's browser: %q, want %q", out, want)
	}
}
