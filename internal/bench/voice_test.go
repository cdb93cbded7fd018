package bench

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/testdb"
)

// The voice webhook's floor must do the durable work it stands for: a
// request signed for its URL is stored and answered with a <Dial>; a
// forged one is refused and stores nothing.
func TestMinimalHandlerChecksTheSignatureAndStoresOneRow(t *testing.T) {
	pool := testdb.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const token = "test auth token"
	u, stop, err := startMinimal(ctx, pool, token)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	hc := &http.Client{Timeout: 10 * time.Second}
	form := url.Values{"CallSid": {"CA0001"}, "CallId": {"call-1"}, "From": {"client:x"}, "AccountSid": {"AC1"}}
	good := voiceRequest{target: u, body: form.Encode(), signature: carrier.Sign(token, u, form)}
	if err := sendVoice(ctx, hc, good); err != nil {
		t.Fatalf("signed request: %v", err)
	}
	forged := good
	forged.signature = carrier.Sign("another token", u, form)
	var es *errStatus
	if err := sendVoice(ctx, hc, forged); !errors.As(err, &es) || es.status != http.StatusForbidden {
		t.Fatalf("forged request: %v, want 403", err)
	}
	var n int
	var callID string
	if err := pool.QueryRow(ctx, `SELECT count(*), max(call_id) FROM `+minimalTable).Scan(&n, &callID); err != nil {
		t.Fatal(err)
	}
	if n != 1 || callID != "call-1" {
		t.Fatalf("%d rows (call %q), want the signed request's one", n, callID)
	}
	// The same call twice is one row: the second is refused (503), as a
	// unique key refuses it.
	if err := sendVoice(ctx, hc, good); !errors.As(err, &es) || es.status != http.StatusServiceUnavailable {
		t.Fatalf("repeated request: %v, want 503", err)
	}
	stop()
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, minimalTable).Scan(&exists); err != nil || exists {
		t.Fatalf("table left behind after stop (%v)", err)
	}
}

func TestSendVoiceCountsAnAnswerWithoutDialAsAnError(t *testing.T) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Response><Say>Sorry</Say><Hangup/></Response>`))
	})}
	ln := listen(t)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	err := sendVoice(context.Background(), &http.Client{Timeout: 5 * time.Second}, voiceRequest{target: "http://" + ln.Addr().String(), body: "a=b"})
	if !errors.Is(err, errNoDial) || errorKind(err) != "no <Dial>" {
		t.Fatalf("refusal read as %v (%s)", err, errorKind(err))
	}
	if k := errorKind(&errStatus{status: 409, code: "call_in_progress"}); !strings.HasPrefix(k, "409 call_in_progress") {
		t.Fatalf("kind %q", k)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
