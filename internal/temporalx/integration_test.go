package temporalx_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/mobayilo/mobayilo/activities"
	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/devserver"
	"github.com/mobayilo/mobayilo/internal/ledger"
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
		if err := temporalx.EnsureSchedules(ctx, c, "mobayilo"); err != nil {
			t.Fatal(err)
		}
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
