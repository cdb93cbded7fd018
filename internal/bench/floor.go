package bench

import (
	"context"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// The floor: what Temporal itself costs for one request/response, on the
// same server, with the same client settings (codec included) and worker
// settings as the app's, so that (b)/(a) says how much of POST /calls is
// ours. A bare update-with-start whose update runs one no-op local
// activity and returns; the workflow then completes.

const (
	floorTaskQueue    = "bench-floor"
	floorWorkflowName = "BenchFloor"
	floorUpdateName   = "run"
	floorActivityName = "BenchNoop"
)

// floorWorkerOptions are the app worker's settings for maxPollers
// (TEMPORAL_MAX_POLLERS): temporalx.NewWorkerTuned's, bar its per-activity
// log line, which is the app's work, not Temporal's. Keep them equal to the
// app's when those change.
func floorWorkerOptions(maxPollers int) worker.Options {
	var o worker.Options
	if maxPollers > 0 {
		o.WorkflowTaskPollerBehavior = worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{MaximumNumberOfPollers: maxPollers})
		o.ActivityTaskPollerBehavior = worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{MaximumNumberOfPollers: maxPollers})
	}
	return o
}

// startFloorWorker runs the floor's worker on its own task queue in this
// process; the caller stops it.
func startFloorWorker(c client.Client, maxPollers int) (worker.Worker, error) {
	w := worker.New(c, floorTaskQueue, floorWorkerOptions(maxPollers))
	w.RegisterWorkflowWithOptions(floorWorkflow, workflow.RegisterOptions{Name: floorWorkflowName})
	w.RegisterActivityWithOptions(noop, activity.RegisterOptions{Name: floorActivityName})
	return w, w.Start()
}

func noop(context.Context) error { return nil }

// floorWorkflow answers one update by running a no-op local activity, then
// completes.
func floorWorkflow(ctx workflow.Context) error {
	done := false
	err := workflow.SetUpdateHandler(ctx, floorUpdateName, func(ctx workflow.Context) error {
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{ScheduleToCloseTimeout: 10 * time.Second})
		err := workflow.ExecuteLocalActivity(lctx, floorActivityName).Get(ctx, nil)
		done = true
		return err
	})
	if err != nil {
		return err
	}
	return workflow.Await(ctx, func() bool { return done && workflow.AllHandlersFinished(ctx) })
}

// floorRequest is one update-with-start of the floor workflow, waiting for
// the update's result, as POST /calls waits for its authorization.
func floorRequest(ctx context.Context, c client.Client) error {
	id := "bench-floor-" + uuid.NewString()
	start := c.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID: id, TaskQueue: floorTaskQueue, WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionTimeout: time.Hour,
	}, floorWorkflowName)
	// The same bound as POST /calls.
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	h, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{UpdateID: "run-" + id, UpdateName: floorUpdateName,
			WaitForStage: client.WorkflowUpdateStageCompleted},
	})
	if err != nil {
		return err
	}
	return h.Get(ctx, nil)
}
