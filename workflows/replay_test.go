package workflows_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"google.golang.org/protobuf/proto"

	"github.com/mobayilo/mobayilo/internal/codec"
	"github.com/mobayilo/mobayilo/workflows"
)

// TestReplayRecordedHistories replays histories recorded from real runs
// (RECORD_HISTORY=1 go test -run 'TestFullCall|TestRefusals|TestBrowserHangUp|TestStuckCall|TopUp|TestARefundDuringACall|TestDeclineStaysListed|TestATopUpDuringACallExtendsIt|TestCallerIDWebhook|TestAutoTopUp|TestDeleteAccountEndToEnd/plain' ./web/
// writes them; RECORD_HISTORY=fast writes *_fast.json, RECORD_HISTORY=lean *_lean.json,
// RECORD_HISTORY=input *_input.json): a change to a workflow that would break running ones fails
// here, and must go behind workflow.GetVersion.
func TestReplayRecordedHistories(t *testing.T) {
	r := worker.NewWorkflowReplayer()
	workflows.Register(r)
	for _, f := range []string{"call_answered.json", "topup_declined_then_paid.json", "topup_forged_signal_then_paid.json",
		// The browser's hang-up with the final callback lost (browser-ended v1).
		"call_browser_hangup.json",
		// Before the fast path (issue 14): a refused call, an authorization
		// the browser abandoned, a call stuck in billing retried by support.
		"call_refused.json", "call_abandoned.json", "call_stuck_retried.json",
		// After it (fast-path v1): the same runs, and an answered call.
		"call_answered_fast.json", "call_refused_fast.json", "call_abandoned_fast.json", "call_stuck_retried_fast.json",
		"call_browser_hangup_fast.json", "topup_declined_then_paid_fast.json", "topup_forged_signal_then_paid_fast.json",
		// fast-path v2 (lean): the later changes on unasked, no terms memo.
		"call_answered_lean.json", "call_refused_lean.json", "call_abandoned_lean.json", "call_stuck_retried_lean.json",
		"call_browser_hangup_lean.json", "topup_declined_then_paid_lean.json", "topup_forged_signal_then_paid_lean.json",
		// money-loss v1 (issue 24): a refund during the call ends it.
		"call_cut_by_refund.json",
		// topup-late-failures-listed v1: a decline delivered after the payment is recorded.
		"topup_late_decline_listed.json",
		// top-up-extends v1 (issue 21): a top-up during the call raises its limit to the carrier's ceiling.
		"call_extended_by_topup.json",
		// workflows.PathCurrent (path 3, from the input): the lean path and
		// every change above on without a version marker.
		"call_answered_input.json", "call_refused_input.json", "call_abandoned_input.json", "call_stuck_retried_input.json",
		"call_browser_hangup_input.json", "call_cut_by_refund_input.json", "call_extended_by_topup_input.json",
		"topup_declined_then_paid_input.json", "topup_forged_signal_then_paid_input.json", "topup_late_decline_listed_input.json",
		// The caller ID workflow (issue 20): Twilio's callback verifies.
		"callerid_verified.json",
		// Auto top-up (issue 21): credited, then held by the monthly cap and
		// turned off by the person; a decline that turns it off.
		"autotopup_credited_then_capped.json", "autotopup_declined_off.json",
		// Download my data (issue 22): built, emailed, deleted at expiry
		// (RECORD_HISTORY=1 go test -run TestDataExportWorkflowDeletesTheZipAtExpiry ./web/).
		"data_export_expired.json",
		// Account deletion (issue 22): a deletion run to its end, and one
		// refused (a top-up awaiting payment).
		"account_deletion.json", "account_deletion_refused.json"} {
		if err := r.ReplayWorkflowHistoryFromJSONFile(nil, "testdata/"+f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestReplayWithTheCodec replays, with the payload codec configured as the
// worker has it (TEMPORAL_CODEC_KEYS), the histories recorded before the
// codec existed (plain JSON payloads pass through it) and one recorded with
// it on (RECORD_HISTORY=1 go test -run TestCallWithTheCodec ./web/), whose
// payloads only the key opens.
func TestReplayWithTheCodec(t *testing.T) {
	// The key the web test recorded call_answered_encrypted.json with.
	keys, err := codec.ParseKeys("test-1:3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGho=")
	if err != nil {
		t.Fatal(err)
	}
	c := codec.New(keys)
	replayer := func(o worker.WorkflowReplayerOptions) worker.WorkflowReplayer {
		r, err := worker.NewWorkflowReplayerWithOptions(o)
		if err != nil {
			t.Fatal(err)
		}
		workflows.Register(r)
		return r
	}
	r := replayer(worker.WorkflowReplayerOptions{DataConverter: c.DataConverter(), FailureConverter: c.FailureConverter()})
	files, err := filepath.Glob("testdata/*.json") // every recorded history, plain or encrypted
	if err != nil || len(files) < 3 {
		t.Fatalf("recorded histories: %v, %v", files, err)
	}
	for _, f := range files {
		if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
			t.Errorf("%s with the codec: %v", f, err)
		}
	}

	// The encrypted history really is: the number is in the plain one's
	// payloads and not in its, and it does not replay without the key.
	for f, want := range map[string]bool{"call_answered.json": true, "call_answered_encrypted.json": false} {
		file, err := os.Open("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		h, err := client.HistoryFromJSON(file, client.HistoryJSONOptions{})
		file.Close()
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := proto.Marshal(h)
		if got := bytes.Contains(raw, []byte("+2348031234567")); got != want {
			t.Fatalf("%s holds the number in the clear: %v, want %v", f, got, want)
		}
		if sealed := bytes.Contains(raw, []byte(codec.Encoding)); sealed == want {
			t.Fatalf("%s has encrypted payloads: %v, want %v", f, sealed, !want)
		}
	}
	quiet := log.NewStructuredLogger(slog.New(slog.DiscardHandler)) // it panics, and would print the stack
	if err := replayer(worker.WorkflowReplayerOptions{}).ReplayWorkflowHistoryFromJSONFile(quiet, "testdata/call_answered_encrypted.json"); err == nil {
		t.Fatal("the encrypted history replayed without the key")
	}
}
