package web

import (
	"context"
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// workflowStart is one request/response with a new workflow from a web
// request: update-with-start of workflow ID (failing if it exists) with
// its first update, waited for until the update completed, within Bound.
type workflowStart struct {
	ID, Workflow     string
	Input            any
	SearchAttributes []temporal.SearchAttributeUpdate
	Memo             map[string]any
	ExecutionTimeout time.Duration // 0: none
	Update, UpdateID string
	// Bound: a browser waits on this, and a stuck Temporal must not hang
	// it.
	Bound time.Duration
	// Refusal is the ApplicationError type of the update's business
	// refusals: the workflow ran and answers for its own row. Empty: none.
	Refusal string
	// Abandon undoes what the request wrote before starting (its row)
	// when the workflow did not answer; ctx outlives the request, which
	// may be the very thing that failed.
	Abandon func(ctx context.Context)
}

// startWorkflow runs ws and decodes the update's result into out. Any
// failure but a refusal is logged and abandoned (ws.Abandon) before it is
// returned; a refusal is returned as the workflow's ApplicationError.
func (s *Server) startWorkflow(ctx context.Context, ws workflowStart, out any) error {
	tctx, cancel := context.WithTimeout(ctx, ws.Bound)
	defer cancel()
	start := s.temporal.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       ws.ID,
		TaskQueue:                s.cfg.TemporalTaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionTimeout: ws.ExecutionTimeout,
		TypedSearchAttributes:    temporal.NewSearchAttributes(ws.SearchAttributes...),
		Memo:                     ws.Memo,
	}, ws.Workflow, ws.Input)
	handle, err := s.temporal.UpdateWithStartWorkflow(tctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateID: ws.UpdateID, UpdateName: ws.Update, WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	if err == nil {
		err = handle.Get(tctx, out)
	}
	if err == nil || isRefusal(err, ws.Refusal) {
		return err
	}
	s.log.Error().Err(err).Str("workflow_id", ws.ID).Str("update", ws.Update).Msg("start workflow")
	if ws.Abandon != nil {
		ws.Abandon(context.WithoutCancel(ctx))
	}
	return err
}

// isRefusal reports whether err is an ApplicationError of type typ.
func isRefusal(err error, typ string) bool {
	var appErr *temporal.ApplicationError
	return typ != "" && errors.As(err, &appErr) && appErr.Type() == typ
}
