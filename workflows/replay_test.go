package workflows_test

import (
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/mobayilo/mobayilo/workflows"
)

// TestReplayRecordedCallHistories replays histories recorded from real runs
// (RECORD_HISTORY=1 go test -run TestFullCall ./web/ writes one): a change
// to the call workflow that would break running calls fails here, and must
// go behind workflow.GetVersion.
func TestReplayRecordedCallHistories(t *testing.T) {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(workflows.Call, workflow.RegisterOptions{Name: workflows.CallWorkflowName})
	if err := r.ReplayWorkflowHistoryFromJSONFile(nil, "testdata/call_answered.json"); err != nil {
		t.Fatal(err)
	}
}
