package web_test

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/rs/zerolog"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/codec"
	"github.com/mobayilo/mobayilo/internal/temporalx"
	"github.com/mobayilo/mobayilo/workflows"
)

// personalData matches what must never sit in Temporal in the clear: an
// E.164 number's digits standing alone (not a UUID's eight-digit group),
// or an email address.
var personalData = regexp.MustCompile(`(^|[^0-9A-Za-z-])\+?[1-9][0-9]{7,14}($|[^0-9A-Za-z-])|[^\s"@]+@[^\s"@]+\.[a-z]+`)

// TestCallWithTheCodecKeepsNumbersOutOfTemporal runs a whole call with
// TEMPORAL_CODEC_KEYS set on the web server, the worker and the client,
// then reads the workflow as the Temporal UI would, with a client that has
// no key: its history, memo and result hold no phone number, and its
// search attributes (never encrypted) no personal data at all. The same
// client with the key reads it all back.
func TestCallWithTheCodecKeepsNumbersOutOfTemporal(t *testing.T) {
	for v, want := range map[string]bool{"+2348031234567": true, "2348031234567": true, "ada@example.com": true,
		"86552635-a5b1-453a-b336-dc2b3bfbf4a2": false, "NG": false, "charged": false} {
		if personalData.MatchString(v) != want {
			t.Fatalf("personalData matches %q: %v", v, !want)
		}
	}
	e := newCallEnvWithCodec(t, testCodecKeys)
	b := e.caller("private.caller@example.com", 500)
	status, call := b.startCall("+234 803 123 4567")
	if status != http.StatusCreated {
		t.Fatalf("POST /calls: %d %+v", status, call)
	}
	if _, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, 61*time.Second, carrier.Faults{}); err != nil {
		t.Fatal(err)
	}
	st := e.finish(call.CallID)
	if st.Status != workflows.StatusCompleted || st.BillingState != workflows.BillingCharged {
		t.Fatalf("state %+v", st)
	}
	id := workflows.CallWorkflowID(call.CallID)
	secrets := [][]byte{[]byte("2348031234567"), []byte("private.caller@example.com")}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	plain, err := temporalx.Dial(ctx, temporalx.Options{Address: e.srv.Address, Namespace: "default", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()

	// The history, in both the binary form the server stores and the JSON
	// the UI downloads.
	var h historypb.History
	iter := plain.GetWorkflowHistory(ctx, id, "", false, 0)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	bin, _ := proto.Marshal(&h)
	js, _ := protojson.Marshal(&h)
	for _, s := range secrets {
		if bytes.Contains(bin, s) || bytes.Contains(js, s) {
			t.Errorf("the history shows %s in the clear", s)
		}
	}

	desc, err := plain.DescribeWorkflow(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	info := desc.RawResponse.GetWorkflowExecutionInfo()
	memo := info.GetMemo().GetFields()
	if len(memo) == 0 {
		t.Fatal("the call has no memo")
	}
	for name, p := range memo {
		raw, _ := proto.Marshal(p)
		if enc := string(p.GetMetadata()[converter.MetadataEncoding]); enc != codec.Encoding {
			t.Errorf("memo %s is %s, not encrypted", name, enc)
		}
		for _, s := range secrets {
			if bytes.Contains(raw, s) {
				t.Errorf("memo %s shows %s", name, s)
			}
		}
	}
	// Search attributes go through no codec: every value must be free of
	// personal data by itself.
	fields := info.GetSearchAttributes().GetIndexedFields()
	if len(fields) == 0 {
		t.Fatal("the call has no search attributes")
	}
	for name, p := range fields {
		var v any
		if err := converter.GetDefaultDataConverter().FromPayload(p, &v); err != nil {
			t.Fatalf("search attribute %s: %v", name, err)
		}
		if s, _ := v.(string); personalData.MatchString(s) {
			t.Errorf("search attribute %s = %q looks like personal data", name, s)
		}
	}

	// With the key, the memo reads back.
	var number string
	keys, _ := codec.ParseKeys(testCodecKeys)
	if err := codec.New(keys).DataConverter().FromPayload(memo["number"], &number); err != nil || number != "+2348031234567" {
		t.Fatalf("memo number with the key: %q, %v", number, err)
	}
	recordHistory(t, e.tc, id, "call_answered_encrypted.json")

	// A refusal travels as an encrypted failure (its message and details
	// sealed too) and still reaches the caller whole.
	poor := e.caller("poor@example.com", 10)
	status, refused := poor.startCall("+234 803 123 4567")
	if status != http.StatusPaymentRequired || refused.Error == nil || refused.Error.Code != "insufficient_balance" || refused.Error.NeededCents != 14 {
		t.Fatalf("refusal through the codec: %d %+v", status, refused.Error)
	}
}
