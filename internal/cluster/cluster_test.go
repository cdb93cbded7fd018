package cluster_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/mobayilo/mobayilo/internal/cluster"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/workflows"
)

// The test's own workflows: one activity, and a counter that takes
// updates (the web role starts calls with update-with-start).

func greet(_ context.Context, name string) (string, error) { return "hello " + name, nil }

func greetWorkflow(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	var out string
	err := workflow.ExecuteActivity(ctx, greet, name).Get(ctx, &out)
	return out, err
}

func counterWorkflow(ctx workflow.Context) (int, error) {
	n, done := 0, false
	if err := workflow.SetUpdateHandler(ctx, "add", func(_ workflow.Context, d int) (int, error) {
		n += d
		return n, nil
	}); err != nil {
		return 0, err
	}
	if err := workflow.SetUpdateHandler(ctx, "finish", func(workflow.Context) error {
		done = true
		return nil
	}); err != nil {
		return 0, err
	}
	err := workflow.Await(ctx, func() bool { return done })
	return n, err
}

func TestClusterKeepsWorkflowsAcrossRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the Temporal server and Postgres; skipped with -short")
	}
	bins, err := cluster.FindBinaries()
	if err != nil {
		t.Skipf("skipped: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	// The test's own pair of databases, dropped at the end.
	prefix := "temporal_t_" + randomHex(4)
	t.Cleanup(func() { dropDatabases(t, prefix, prefix+"_visibility") })
	start := time.Now()
	srv, err := cluster.Start(ctx, cluster.Options{Binaries: bins, DatabaseURL: testdb.ServerURL(), DatabasePrefix: prefix,
		Dir: t.TempDir(), Output: os.Stderr, Namespace: "mobayilo-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	t.Logf("cluster ready on %s (UI %s) in %s, schema included", srv.Address, srv.UIURL, time.Since(start).Round(time.Second))

	// The UI server serves the UI.
	resp, err := http.Get(srv.UIURL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("UI at %s: %s", srv.UIURL, resp.Status)
	}

	for _, ns := range []string{"default", "mobayilo-test"} {
		c, err := client.Dial(client.Options{HostPort: srv.Address, Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		sa, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range workflows.SearchAttributeNames() {
			if ty, ok := sa.GetCustomAttributes()[name]; !ok || ty != enums.INDEXED_VALUE_TYPE_KEYWORD {
				t.Errorf("namespace %s: search attribute %s is %v (registered: %v)", ns, name, ty, ok)
			}
		}
	}

	c, err := client.Dial(client.Options{HostPort: srv.Address, Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	queue := "cluster-test"
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(greetWorkflow)
	w.RegisterWorkflow(counterWorkflow)
	w.RegisterActivity(greet)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	run := func(id, name string) string {
		t.Helper()
		r, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue,
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.SearchAttrUserID.ValueSet("user-" + name))}, greetWorkflow, name)
		if err != nil {
			t.Fatal(err)
		}
		var out string
		if err := r.Get(ctx, &out); err != nil {
			t.Fatalf("workflow %s: %v", id, err)
		}
		return out
	}
	if got := run("greet-1", "ada"); got != "hello ada" {
		t.Fatalf("first workflow returned %q", got)
	}

	// Update-with-start: the first call starts the counter and updates it.
	update := func(d int) int {
		t.Helper()
		op := c.NewWithStartWorkflowOperation(client.StartWorkflowOptions{ID: "counter-1", TaskQueue: queue,
			WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING}, counterWorkflow)
		h, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{StartWorkflowOperation: op,
			UpdateOptions: client.UpdateWorkflowOptions{UpdateName: "add", Args: []any{d}, WaitForStage: client.WorkflowUpdateStageCompleted}})
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := h.Get(ctx, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := update(1); n != 1 {
		t.Fatalf("update-with-start returned %d, want 1", n)
	}

	// A graceful restart, then a crash and a start: the closed workflow's
	// history, the running counter's state and the visibility records are
	// all in Postgres.
	for _, how := range []string{"restart", "kill"} {
		start := time.Now()
		if how == "kill" {
			srv.Kill()
		}
		if err := srv.Restart(ctx); err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		t.Logf("%s: ready again in %s", how, time.Since(start).Round(time.Second))

		var got string
		if err := c.GetWorkflow(ctx, "greet-1", "").Get(ctx, &got); err != nil || got != "hello ada" {
			t.Fatalf("after %s, the first workflow's result is %q, %v", how, got, err)
		}
		id := "greet-after-" + how
		if got := run(id, how); got != "hello "+how {
			t.Fatalf("after %s, a new workflow returned %q", how, got)
		}
	}
	// The counter started before the restarts still counts, and the same
	// update-with-start now finds it rather than starting another.
	if n := update(2); n != 3 {
		t.Fatalf("update-with-start after the restarts returned %d, want 3", n)
	}
	if _, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: "counter-1", UpdateName: "finish",
		WaitForStage: client.WorkflowUpdateStageCompleted}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c.GetWorkflow(ctx, "counter-1", "").Get(ctx, &n); err != nil || n != 3 {
		t.Fatalf("counter ended with %d, %v", n, err)
	}

	// Visibility (the second database) answers a query on a custom search
	// attribute; it is eventually consistent, so poll.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: `UserID = "user-ada"`})
		if err == nil && len(resp.Executions) == 1 && resp.Executions[0].Execution.WorkflowId == "greet-1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("visibility: UserID = user-ada lists %v, %v", resp.GetExecutions(), err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func dropDatabases(t *testing.T, names ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testdb.ServerURL())
	if err != nil {
		t.Logf("drop the test's databases: %v", err)
		return
	}
	defer conn.Close(ctx)
	for _, name := range names {
		if _, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{name}.Sanitize())); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	}
}
