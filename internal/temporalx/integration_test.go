package temporalx_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/mobayilo/mobayilo/activities"
	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/devserver"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/internal/temporalx"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/workflows"
)

// startServer runs a real Temporal dev server (headless) for the test.
func startServer(t *testing.T) (*devserver.Server, client.Client) {
	return startServerWith(t, devserver.Options{})
}

func startServerWith(t *testing.T, o devserver.Options) (*devserver.Server, client.Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	o.UIPort, o.Output = -1, os.Stderr
	srv, err := devserver.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	dialCtx, dialCancel := context.WithTimeout(ctx, 30*time.Second)
	defer dialCancel()
	c, err := temporalx.Dial(dialCtx, temporalx.Options{Address: srv.Address, Namespace: "default", Logger: zerolog.New(os.Stderr).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return srv, c
}

func TestDevServerAndWorkerRunTheLedgerAudit(t *testing.T) {
	pool := testdb.New(t)
	_, c := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The dev server was started with the search attributes; registering
	// again finds them all and changes nothing.
	if err := temporalx.RegisterSearchAttributes(ctx, c, "default"); err != nil {
		t.Fatal(err)
	}
	sa, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range workflows.SearchAttributeNames() {
		if _, ok := sa.GetCustomAttributes()[name]; !ok {
			t.Errorf("search attribute %s is not registered", name)
		}
	}

	queue := "test-" + uuid.NewString()
	w := temporalx.NewWorker(c, queue, activities.New(pool), zerolog.Nop())
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	// A balanced ledger passes.
	l := ledger.New(pool)
	var accountID uuid.UUID
	err = db.InTx(ctx, pool, func(q *db.Queries) error {
		u, err := q.CreateUser(ctx, db.CreateUserParams{Email: "audit@example.com", DisplayName: "A", PasswordHash: "x", HomeCountry: "NG"})
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
	if _, err := l.Post(ctx, ledger.Entry{Key: "bonus:signup:audit", AccountID: accountID, Kind: ledger.Bonus, AmountCents: 250}); err != nil {
		t.Fatal(err)
	}
	run := func(id string) (workflows.LedgerAuditResult, error) {
		r, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue}, workflows.LedgerAuditWorkflowName)
		if err != nil {
			t.Fatal(err)
		}
		var out workflows.LedgerAuditResult
		err = r.Get(ctx, &out)
		return out, err
	}
	out, err := run("audit-ok-" + uuid.NewString())
	if err != nil {
		t.Fatalf("audit of a balanced ledger failed: %v", err)
	}
	if !out.OK || out.WalletsCents != 250 || out.HouseBalances["promotions"] != -250 {
		t.Fatalf("audit result %+v", out)
	}

	// A tampered balance fails the workflow with the typed error, naming the account.
	if _, err := pool.Exec(ctx, `UPDATE accounts SET cached_balance_cents = 999 WHERE id = $1`, accountID); err != nil {
		t.Fatal(err)
	}
	_, err = run("audit-bad-" + uuid.NewString())
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != workflows.ErrTypeLedgerUnbalanced {
		t.Fatalf("want a %s failure, got %v", workflows.ErrTypeLedgerUnbalanced, err)
	}
	var problems []string
	if err := appErr.Details(&problems); err != nil || !strings.Contains(strings.Join(problems, "\n"), accountID.String()) {
		t.Fatalf("failure details should name %s: %v (%v)", accountID, problems, err)
	}
}

func TestEnsureSchedulesIsIdempotent(t *testing.T) {
	_, c := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range 2 {
		if err := temporalx.EnsureSchedules(ctx, c, "mobayilo", false); err != nil {
			t.Fatal(err)
		}
	}
	hk, err := c.ScheduleClient().GetHandle(ctx, workflows.HousekeepingScheduleID).Describe(ctx)
	if err != nil {
		t.Fatalf("housekeeping schedule: %v", err)
	}
	if a, ok := hk.Schedule.Action.(*client.ScheduleWorkflowAction); !ok || a.Workflow != workflows.HousekeepingWorkflowName || a.TaskQueue != "mobayilo" {
		t.Fatalf("housekeeping schedule action %#v", hk.Schedule.Action)
	}
	d, err := c.ScheduleClient().GetHandle(ctx, workflows.LedgerAuditScheduleID).Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	action, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !ok || action.TaskQueue != "mobayilo" {
		t.Fatalf("schedule action %#v", d.Schedule.Action)
	}
	if got := d.Schedule.Spec.CronExpressions; len(got) != 1 || got[0] != workflows.LedgerAuditCron {
		// The server may normalise cron strings into calendars.
		if len(d.Schedule.Spec.Calendars) == 0 {
			t.Fatalf("schedule spec %+v", d.Schedule.Spec)
		}
	}
}

func customAttributes(t *testing.T, c client.Client) map[string]bool {
	t.Helper()
	sa, err := c.OperatorService().ListSearchAttributes(context.Background(), &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for name := range sa.GetCustomAttributes() {
		out[name] = true
	}
	return out
}

func TestRegisterSearchAttributesOnABareServer(t *testing.T) {
	_, c := startServerWith(t, devserver.Options{WithoutSearchAttributes: true})
	for _, name := range workflows.SearchAttributeNames() {
		if customAttributes(t, c)[name] {
			t.Fatalf("bare server already has %s", name)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range 2 { // the second run finds them all and changes nothing
		if err := temporalx.RegisterSearchAttributes(ctx, c, "default"); err != nil {
			t.Fatal(err)
		}
	}
	// Registration is eventually visible on the dev server.
	deadline := time.Now().Add(10 * time.Second)
	for _, name := range workflows.SearchAttributeNames() {
		for !customAttributes(t, c)[name] {
			if time.Now().After(deadline) {
				t.Fatalf("search attribute %s was not registered", name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// TestPricingSyncRepricesTheDeckFromTwilio runs the PricingSync workflow on
// a real dev server and worker, with twilio-go pointed at a local server
// that answers with Twilio's Pricing API JSON.
func TestPricingSyncRepricesTheDeckFromTwilio(t *testing.T) {
	pool := testdb.New(t)
	_, c := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	deck, err := ratedeck.Parse(strings.NewReader(`prefix,country,description,per_minute_usd,connection_fee_usd,enabled
234,NG,Nigeria,0.13,0,true
23480,NG,Nigeria mobile,0.15,0,true
233,GH,Ghana,0.22,0,true
44,GB,United Kingdom,0.02,0,false
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ratedeck.Replace(ctx, pool, deck); err != nil {
		t.Fatal(err)
	}

	var requests atomic.Int32
	twilioAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if u, p, ok := r.BasicAuth(); !ok || u != "SKkey" || p != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/v2/Voice/Countries/NG":
			_, _ = w.Write([]byte(`{"country":"Nigeria","iso_country":"NG","price_unit":"USD","inbound_call_prices":[],
"outbound_prefix_prices":[
 {"origination_prefixes":["ALL"],"destination_prefixes":["234"],"base_price":"0.100","current_price":"0.100","friendly_name":"Programmable Outbound Minute - Nigeria"},
 {"origination_prefixes":["ALL"],"destination_prefixes":["23480"],"base_price":"0.160","current_price":"0.160","friendly_name":"Programmable Outbound Minute - Nigeria - Mobile"},
 {"origination_prefixes":["ALL"],"destination_prefixes":["23490"],"base_price":"0.200","current_price":"0.200","friendly_name":"Programmable Outbound Minute - Nigeria - Mobile 9"}],
"url":"https://pricing.twilio.com/v2/Voice/Countries/NG"}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"code":20404,"message":"not found","status":404}`))
		}
	}))
	defer twilioAPI.Close()

	acts := activities.New(pool)
	acts.Pricing = carrier.NewTwilioPricing("ACsid", "SKkey", "secret", twilioAPI.URL, twilioAPI.Client())
	acts.PricingPolicy = rating.Pricing{MarkupBasisPoints: 3000, MinMarginMicros: 5000}
	queue := "pricing-" + uuid.NewString()
	w := temporalx.NewWorker(c, queue, acts, zerolog.Nop())
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "pricing-" + uuid.NewString(), TaskQueue: queue}, workflows.PricingSyncWorkflowName)
	if err != nil {
		t.Fatal(err)
	}
	var result workflows.PricingSyncResult
	if err := run.Get(ctx, &result); err != nil {
		t.Fatalf("pricing sync: %v", err)
	}
	// GH is unknown to this "Twilio": skipped, prices unchanged. GB is disabled: not asked.
	if len(result.Countries) != 2 || result.Failed != 1 || requests.Load() != 2 {
		t.Fatalf("result %+v after %d requests", result, requests.Load())
	}
	prices := map[string]int64{}
	rows, err := db.New(pool).ListRates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		prices[r.Prefix] = r.PerMinuteMicros
	}
	want := map[string]int64{"234": 130_000, "23480": 208_000, "23490": 260_000, "233": 220_000, "44": 20_000}
	for prefix, micros := range want {
		if prices[prefix] != micros {
			t.Errorf("+%s costs %d, want %d", prefix, prices[prefix], micros)
		}
	}
	if len(result.Countries[1].Losses) != 1 || !strings.Contains(result.Countries[1].Losses[0], "+23480") {
		t.Errorf("the loss on +23480 was not flagged: %+v", result.Countries[1])
	}

	// The same prices again change nothing.
	run, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "pricing-" + uuid.NewString(), TaskQueue: queue}, workflows.PricingSyncWorkflowName)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, &result); err != nil {
		t.Fatal(err)
	}
	for _, r := range result.Countries {
		if r.Changed+r.Added+r.Disabled != 0 || len(r.Losses) != 0 {
			t.Errorf("second run changed %s: %+v", r.Country, r)
		}
	}
}

// The pricing sync runs against the carrier simulator's Voice Pricing API
// (as `mobayilo dev` schedules it), through the production client: every
// country of the sample deck is priced, none fails.
func TestPricingSyncRunsAgainstTheCarrierSimulator(t *testing.T) {
	pool := testdb.New(t)
	_, c := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sample, err := ratedeck.Parse(bytes.NewReader(ratedeck.SampleCSV))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ratedeck.Replace(ctx, pool, sample); err != nil {
		t.Fatal(err)
	}
	sim := &carrier.Simulator{AccountSID: "ACsim", AuthToken: "tok", APIKey: "SKkey", APISecret: "secret0000",
		VoicePrices: carrier.CostsFromDeck(sample, 7000)}
	api := httptest.NewServer(sim.RESTHandler())
	defer api.Close()

	acts := activities.New(pool)
	acts.Pricing = carrier.NewTwilioPricing("ACsim", "SKkey", "secret0000", api.URL, api.Client())
	acts.PricingPolicy = rating.Pricing{MarkupBasisPoints: 3000, MinMarginMicros: 5000}
	queue := "pricing-sim-" + uuid.NewString()
	w := temporalx.NewWorker(c, queue, acts, zerolog.Nop())
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "pricing-" + uuid.NewString(), TaskQueue: queue}, workflows.PricingSyncWorkflowName)
	if err != nil {
		t.Fatal(err)
	}
	var result workflows.PricingSyncResult
	if err := run.Get(ctx, &result); err != nil {
		t.Fatalf("pricing sync: %v", err)
	}
	countries := map[string]bool{}
	for _, r := range sample {
		if r.Enabled {
			countries[r.Country] = true
		}
	}
	if result.Failed != 0 || len(result.Countries) != len(countries) {
		t.Fatalf("result %+v, want %d countries priced", result, len(countries))
	}
}
