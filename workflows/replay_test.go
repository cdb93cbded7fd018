package workflows_test

import (
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/mobayilo/mobayilo/workflows"
)

// TestReplayRecordedHistories replays histories recorded from real runs
// (RECORD_HISTORY=1 go test -run 'TestFullCall|TestTopUpEndToEnd|TestBrowserHangUpBillsAtOnce' ./web/
// writes them): a change to a workflow that would break running ones fails
// here, and must go behind workflow.GetVersion.
func TestReplayRecordedHistories(t *testing.T) {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(workflows.Call, workflow.RegisterOptions{Name: workflows.CallWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.TopUp, workflow.RegisterOptions{Name: workflows.TopUpWorkflowName})
	for _, f := range []string{"call_answered.json", "topup_declined_then_paid.json", "topup_forged_signal_then_paid.json",
		// The browser's hang-up with the final callback lost (browser-ended v1).
		"call_browser_hangup.json"} {
		if err := r.ReplayWorkflowHistoryFromJSONFile(nil, "testdata/"+f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
