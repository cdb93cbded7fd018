package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/metrics"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/internal/tracing"
)

// lockedBuffer is a bytes.Buffer safe for a command's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runCmd runs the binary's entry point with vars as the whole environment.
func runCmd(ctx context.Context, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	var out, errOut lockedBuffer
	code = run(ctx, args, env{stdout: &out, stderr: &errOut, getenv: func(k string) string { return vars[k] }})
	return code, out.String(), errOut.String()
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands() {
		args := append(strings.Fields(c.name), "-h")
		code, _, stderr := runCmd(context.Background(), nil, args...)
		if code != 0 || !strings.Contains(stderr, "Usage: mobayilo "+c.name) || !strings.Contains(stderr, c.summary) {
			t.Errorf("%s: exit %d, help %q", strings.Join(args, " "), code, stderr)
		}
	}
	code, _, stderr := runCmd(context.Background(), nil, "-h")
	if code != 0 || !strings.Contains(stderr, "ledger verify") {
		t.Errorf("mobayilo -h: exit %d, %q", code, stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"fly"}, {"ledger"}, {"migrate", "-nope"}, {"web", "extra"}, {"users", "grant-admin"}} {
		if code, _, _ := runCmd(context.Background(), nil, args...); code != 2 {
			t.Errorf("mobayilo %v: exit %d, want 2", args, code)
		}
	}
}

func TestBadConfigNamesTheSetting(t *testing.T) {
	code, _, stderr := runCmd(context.Background(), map[string]string{"APP_ENV": "production"}, "migrate")
	if code != 1 || !strings.Contains(stderr, "SESSION_SECRET: must be set in production") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// A role that serves or changes real state must be told its environment:
// with APP_ENV unset it would run as development, with public secrets and
// /dev/mail open to anyone. dev, tests and the load harness set or assume
// development themselves.
func TestRolesRequireAppEnv(t *testing.T) {
	for _, role := range []string{"web", "worker", "migrate"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		code, _, stderr := runCmd(ctx, map[string]string{"LOG_FORMAT": "json"}, role)
		cancel()
		if code != 1 || !strings.Contains(stderr, "APP_ENV is not set") || strings.Contains(stderr, `"configuration"`) {
			t.Errorf("mobayilo %s with APP_ENV unset: exit %d\n%s", role, code, stderr)
		}
	}
}

// A staging deploy on Stripe's test mode says so at start, loudly.
func TestStagingSaysStripeTestModeLoudly(t *testing.T) {
	vars := map[string]string{
		"APP_ENV": "production", "LOG_FORMAT": "json",
		"PUBLIC_BASE_URL":  "https://staging.mobayilo.example",
		"DATABASE_URL":     "postgres://mobayilo:pw@db.internal:5432/mobayilo?sslmode=verify-full",
		"TEMPORAL_ADDRESS": "temporal.internal:7233", "TEMPORAL_INSECURE": "true",
		"SESSION_SECRET":     "7d1f6c0b2a9e4f3c8b5a6d7e8f9a0b1c2d3e4f5a",
		"TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef", "TWILIO_AUTH_TOKEN": "t",
		"TWILIO_API_KEY": "SK0123456789abcdef0123456789abcdef", "TWILIO_API_SECRET": "s",
		"TWILIO_TWIML_APP_SID": "AP0123456789abcdef0123456789abcdef", "TWILIO_CALLER_ID": "+14155550100",
		"STRIPE_SECRET_KEY": "sk_test_staging", "STRIPE_PUBLISHABLE_KEY": "pk_test_staging", "STRIPE_WEBHOOK_SECRET": "whsec_x",
		"SMTP_HOST": "smtp.example", "SMTP_FROM": "x@example.com",
		"ALLOWED_COUNTRIES": "NG", "DAILY_SPEND_LIMIT_CENTS": "5000", "DAILY_CALL_LIMIT": "100",
		"CARRIER_SIMULATOR": "false", "PAYMENT_SIMULATOR": "false",
		"TEMPORAL_CODEC_KEYS": "k1:" + base64.StdEncoding.EncodeToString(make([]byte, 32)),
	}
	errOut := &lockedBuffer{}
	e := env{stdout: errOut, stderr: errOut, getenv: func(k string) string { return vars[k] }}
	if _, _, err := setup(e, "web"); err == nil {
		t.Fatalf("test keys without STRIPE_TEST_MODE started:\n%s", errOut.String())
	}
	vars["STRIPE_TEST_MODE"] = "true"
	errOut = &lockedBuffer{}
	e.stdout, e.stderr = errOut, errOut
	if _, _, err := setup(e, "web"); err != nil {
		t.Fatalf("staging: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(errOut.String(), `"level":"warn"`) || !strings.Contains(errOut.String(), "STRIPE TEST MODE") {
		t.Fatalf("no loud test-mode line:\n%s", errOut.String())
	}
}

func TestMigrateIsIdempotent(t *testing.T) {

	_, dbURL := testdb.NewWithURL(t) // already migrated from the template
	vars := map[string]string{"APP_ENV": "test", "DATABASE_URL": dbURL, "LOG_FORMAT": "json"}
	for range 2 {
		code, _, stderr := runCmd(context.Background(), vars, "migrate")
		if code != 0 || !strings.Contains(stderr, `"applied":0`) {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	}
}

func TestMigrateAnEmptyDatabase(t *testing.T) {
	server, err := url.Parse(testdb.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	name := "mobayilo_migrate_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	admin := *server
	admin.Path = "/postgres"
	conn, err := pgx.Connect(context.Background(), admin.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	server.Path = "/" + name
	vars := map[string]string{"APP_ENV": "test", "DATABASE_URL": server.String(), "LOG_FORMAT": "json"}

	migrations, err := db.LoadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCmd(context.Background(), vars, "migrate")
	if code != 0 || !strings.Contains(stderr, fmt.Sprintf(`"applied":%d`, len(migrations))) {
		t.Fatalf("first migrate: exit %d\n%s", code, stderr)
	}
	for _, m := range migrations {
		if !strings.Contains(stderr, `"version":"`+m.Version+`"`) {
			t.Errorf("migration %s not reported", m.Version)
		}
	}
	code, _, stderr = runCmd(context.Background(), vars, "migrate")
	if code != 0 || !strings.Contains(stderr, `"applied":0`) {
		t.Fatalf("second migrate: exit %d\n%s", code, stderr)
	}
}

func TestLedgerVerifyCommand(t *testing.T) {
	pool, dbURL := testdb.NewWithURL(t)
	ctx := context.Background()
	var accountID uuid.UUID
	err := db.InTx(ctx, pool, func(q *db.Queries) error {
		u, err := q.CreateUser(ctx, db.CreateUserParams{Email: "verify@example.com", DisplayName: "V", PasswordHash: "x", HomeCountry: "GH"})
		if err != nil {
			return err
		}
		a, err := q.CreateWallet(ctx, &u.ID)
		accountID = a.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.New(pool).Post(ctx, ledger.Entry{Key: "bonus:signup:v", AccountID: accountID, Kind: ledger.Bonus, AmountCents: 125}); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"APP_ENV": "test", "DATABASE_URL": dbURL, "LOG_LEVEL": "error"}

	code, stdout, stderr := runCmd(ctx, vars, "ledger", "verify")
	if code != 0 || !strings.Contains(stdout, "ledger OK") || !strings.Contains(stdout, "house promotions:   -$1.25") {
		t.Fatalf("clean ledger: exit %d\n%s\n%s", code, stdout, stderr)
	}

	if _, err := pool.Exec(ctx, `UPDATE accounts SET cached_balance_cents = 5000 WHERE id = $1`, accountID); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCmd(ctx, vars, "ledger", "verify")
	if code != 1 || !strings.Contains(stdout, "PROBLEM account "+accountID.String()+" (verify@example.com)") {
		t.Fatalf("tampered ledger: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestGrantAdminCommand(t *testing.T) {
	pool, dbURL := testdb.NewWithURL(t)
	ctx := context.Background()
	svc, err := accounts.New(pool, 0)
	if err != nil {
		t.Fatal(err)
	}
	u, err := svc.SignUp(ctx, accounts.SignUpInput{Email: "boss@example.com", Password: "correct horse", DisplayName: "Boss", HomeCountry: "KE"})
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"APP_ENV": "test", "DATABASE_URL": dbURL}
	code, stdout, stderr := runCmd(ctx, vars, "users", "grant-admin", "BOSS@example.com")
	if code != 0 || !strings.Contains(stdout, "boss@example.com") {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	// One line, not the configuration, at the default log level.
	if out := stdout + stderr; strings.Count(strings.TrimSpace(out), "\n") != 0 || strings.Contains(out, "configuration") {
		t.Fatalf("grant-admin printed more than its one line:\n%s", out)
	}
	got, err := db.New(pool).GetUserByID(ctx, u.ID)
	if err != nil || got.Role != "admin" {
		t.Fatalf("role %q, %v", got.Role, err)
	}
	if code, _, stderr := runCmd(ctx, vars, "users", "grant-admin", "nobody@example.com"); code != 1 || !strings.Contains(stderr, "no account") {
		t.Fatalf("unknown email: exit %d %s", code, stderr)
	}
}

func TestRatesImportCommand(t *testing.T) {
	pool, dbURL := testdb.NewWithURL(t)
	ctx := context.Background()
	vars := map[string]string{"APP_ENV": "test", "DATABASE_URL": dbURL, "LOG_LEVEL": "error"}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	count := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM call_rates`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	head := "prefix,country,description,per_minute_usd,connection_fee_usd,enabled\n"
	good := write("good.csv", head+"234,NG,Nigeria,0.13,0,true\n44,GB,United Kingdom,0.02,0,true\n")
	code, stdout, stderr := runCmd(ctx, vars, "rates", "import", good)
	if code != 0 || !strings.Contains(stdout, "2 added, 0 changed, 0 removed") || count() != 2 {
		t.Fatalf("good file: exit %d\n%s%s", code, stdout, stderr)
	}
	bad := write("bad.csv", head+"234,NG,Nigeria,0.15,0,true\n44,GB,United Kingdom,free,0,true\n33,XX,France,0.02,0,true\n")
	code, stdout, stderr = runCmd(ctx, vars, "rates", "import", bad)
	if code != 1 || !strings.Contains(stderr, "line 3:") || !strings.Contains(stderr, "line 4:") || !strings.Contains(stderr, "nothing was applied") {
		t.Fatalf("bad file: exit %d\n%s%s", code, stdout, stderr)
	}
	var micros int64
	if err := pool.QueryRow(ctx, `SELECT per_minute_micros FROM call_rates WHERE prefix = '234'`).Scan(&micros); err != nil || micros != 130_000 || count() != 2 {
		t.Fatalf("a bad file changed the deck: %d %v", micros, err)
	}
	changed := write("changed.csv", head+"234,NG,Nigeria,0.15,0,true\n")
	code, stdout, _ = runCmd(ctx, vars, "rates", "import", "-dry-run", changed)
	if code != 0 || !strings.Contains(stdout, "dry run") || count() != 2 {
		t.Fatalf("dry run: exit %d %s", code, stdout)
	}
	code, stdout, _ = runCmd(ctx, vars, "rates", "import", changed)
	if code != 0 || !strings.Contains(stdout, "0 added, 1 changed, 1 removed") || !strings.Contains(stdout, "$0.13/min -> $0.15/min") || count() != 1 {
		t.Fatalf("second file: exit %d\n%s", code, stdout)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		// A port closed here can be the kernel's next pick again: never
		// hand out one address twice (dev then fails to bind the second).
		if !handedOut.addrs[addr] {
			handedOut.addrs[addr] = true
			return addr
		}
	}
}

// handedOut is every address freeAddr has returned in this test binary.
var handedOut = struct {
	sync.Mutex
	addrs map[string]bool
}{addrs: map[string]bool{}}

// TestDevRunsTheWholeApp runs `mobayilo dev` as a new user would, on free
// ports and a database that does not exist yet: it must create and migrate
// the database, start a Temporal dev server with its UI, serve a ready web
// role, and stop cleanly.
func TestDevRunsTheWholeApp(t *testing.T) {
	server, err := url.Parse(testdb.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	name := "mobayilo_devtest_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	server.Path = "/" + name
	dbURL := server.String()
	t.Cleanup(func() {
		admin := *server
		admin.Path = "/postgres"
		conn, err := pgx.Connect(context.Background(), admin.String())
		if err == nil {
			_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			conn.Close(context.Background())
		}
	})

	httpAddr, temporalAddr, uiAddr, metricsAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	traceFile := filepath.Join(t.TempDir(), "traces.jsonl")
	vars := map[string]string{
		"METRICS_ADDR":     metricsAddr,
		"TRACE_FILE":       traceFile,
		"DATABASE_URL":     dbURL,
		"HTTP_ADDR":        httpAddr,
		"PUBLIC_BASE_URL":  "http://" + httpAddr,
		"TEMPORAL_ADDRESS": temporalAddr,
		"TEMPORAL_UI_URL":  "http://" + uiAddr,
		"LOG_FORMAT":       "json",
		// A new user can call at once, through the carrier simulator.
		"SIGNUP_BONUS_CENTS": "100",
	}
	args := []string{"dev", "-temporal-db", t.TempDir() + "/temporal.db"}
	// -metrics: Debian's Prometheus scraping it (make test installs it).
	promAddr := ""
	if _, err := exec.LookPath("prometheus"); err == nil || os.Getenv("CI") != "" {
		promAddr = freeAddr(t)
		args = append(args, "-metrics", "-prometheus-addr", promAddr, "-prometheus-dir", t.TempDir())
	} else {
		t.Log("prometheus is not installed: dev -metrics is not tried (scripts/prometheus.sh installs it)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var stderr string
	go func() {
		code, _, errOut := runCmd(ctx, vars, args...)
		stderr = errOut
		done <- code
	}()

	ready := false
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline) && !ready; time.Sleep(250 * time.Millisecond) {
		select {
		case code := <-done:
			t.Fatalf("dev exited early with %d:\n%s", code, stderr)
		default:
		}
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			ready = resp.StatusCode == http.StatusOK
			resp.Body.Close()
		}
	}
	if !ready {
		t.Fatal("dev never became ready")
	}
	resp, err := http.Get("http://" + uiAddr + "/")
	if err != nil {
		t.Fatalf("Temporal UI: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Temporal UI: %s", resp.Status)
	}

	placeSimulatedCall(t, "http://"+httpAddr, dbURL)

	// Both roles' metrics on the metrics listener, never on the app's port.
	snap, err := metrics.Scrape(context.Background(), http.DefaultClient, "http://"+metricsAddr+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Value("mobayilo_calls_finished_total", "status", "completed") != 1 || snap.Value("mobayilo_http_request_duration_seconds", "route", "/calls") < 1 ||
		snap.Value("temporal_workflow_task_execution_latency_seconds") < 1 {
		t.Errorf("dev's metrics after one call: finished %v, POST /calls %v, workflow tasks %v",
			snap.Value("mobayilo_calls_finished_total", "status", "completed"), snap.Value("mobayilo_http_request_duration_seconds", "route", "/calls"),
			snap.Value("temporal_workflow_task_execution_latency_seconds"))
	}
	if resp, err := http.Get("http://" + httpAddr + "/metrics"); err != nil {
		t.Error(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the app's port answers /metrics with %s, not 404", resp.Status)
	}
	if promAddr != "" {
		// Prometheus scrapes every 5 s: the call shows within a few scrapes.
		q := "http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(`sum(mobayilo_calls_finished_total{status="completed"})`)
		got := ""
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && got != "1"; time.Sleep(500 * time.Millisecond) {
			got = promValue(t, q)
		}
		if got != "1" {
			t.Errorf("dev -metrics: Prometheus reads %q completed calls, want 1", got)
		}
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("dev exited with %d:\n%s", code, stderr)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("dev did not stop within 60s of its context ending")
	}
	for _, want := range []string{`"version":"0001_init"`, `"temporal_ui":"http://` + uiAddr, `"app":"http://` + httpAddr, "worker polling"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("dev log lacks %s", want)
		}
	}
	// One trace follows POST /calls through the update to the authorize
	// activity's query, and one the final status callback through the
	// inbox and the signal to the charge's ledger posting.
	spans, err := tracing.ReadFiles(traceFile)
	if err != nil {
		t.Fatal(err)
	}
	sum := spans.Summary()
	for _, p := range tracing.Paths {
		r := sum.Root(p.Root)
		for _, want := range p.Reach {
			if r.Reached(want) == 0 {
				t.Errorf("no trace from %s reaches %s: %s", p.Root, want, r.Line(p.Reach...))
			}
		}
	}
	if t.Failed() {
		fmt.Println(stderr)
	}
}

// promValue is a Prometheus instant query's single value ("" when none).
func promValue(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || len(r.Data.Result) != 1 || len(r.Data.Result[0].Value) != 2 {
		return ""
	}
	v, _ := r.Data.Result[0].Value[1].(string)
	return v
}

// placeSimulatedCall signs up on a running `dev`, places a call, connects it
// through the carrier simulator as the browser's simulator device does, and
// waits for the charge.
func placeSimulatedCall(t *testing.T, base, dbURL string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	post := func(path, contentType, body string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Origin", base)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	form := url.Values{"email": {"dev@example.com"}, "password": {"correct horse"}, "display_name": {"Dev"}, "home_country": {"NG"}}
	if resp := post("/signup", "application/x-www-form-urlencoded", form.Encode()); resp.StatusCode != 200 { // redirects followed to /call
		t.Fatalf("sign up on dev: %s", resp.Status)
	}
	// The sign-up bonus is credited once the email is confirmed, by the
	// link in the development mailbox.
	token := ""
	for deadline := time.Now().Add(10 * time.Second); token == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := c.Get(base + "/dev/mail")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := regexp.MustCompile(`/email/confirm\?token=([A-Za-z0-9_-]+)`).FindSubmatch(body); m != nil {
			token = string(m[1])
		}
	}
	if token == "" {
		t.Fatal("no confirmation email in /dev/mail")
	}
	if resp := post("/email/confirm", "application/x-www-form-urlencoded", url.Values{"token": {token}}.Encode()); resp.StatusCode != 200 {
		t.Fatalf("confirm the email on dev: %s", resp.Status)
	}
	resp := post("/calls", "application/json", `{"phone_number": "+234 803 123 4567"}`)
	var call struct {
		CallID string `json:"call_id"`
		Token  string `json:"token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&call)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || call.CallID == "" || call.Token == "" {
		t.Fatalf("POST /calls on dev: %s", resp.Status)
	}
	if resp := post("/dev/carrier/connect", "application/json", `{"call_id": "`+call.CallID+`", "token": "`+call.Token+`", "talk_seconds": 2}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("simulated connect: %s", resp.Status)
	}
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var billing string
		var cost *int64
		if err := conn.QueryRow(context.Background(), `SELECT billing_state, cost_cents FROM calls WHERE id = $1`, call.CallID).Scan(&billing, &cost); err != nil {
			t.Fatal(err)
		}
		if billing == "charged" && cost != nil && *cost == 14 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the simulated call was not billed: %s", billing)
		}
	}
}

// probe, the image's health check, exits 0 only on a 2xx.
func TestProbeExitsZeroOnlyWhenReady(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	if code, _, errOut := runCmd(context.Background(), nil, "probe", srv.URL+"/readyz"); code != 0 {
		t.Errorf("ready: exit %d, %s", code, errOut)
	}
	ready = false
	if code, _, _ := runCmd(context.Background(), nil, "probe", srv.URL+"/readyz"); code == 0 {
		t.Error("unavailable: exit 0")
	}
	if code, _, _ := runCmd(context.Background(), nil, "probe", "http://"+freeAddr(t)+"/readyz"); code == 0 {
		t.Error("nothing listening: exit 0")
	}
}
