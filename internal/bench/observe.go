package bench

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/mobayilo/mobayilo/internal/tracing"
)

// observability: what metrics and traces cost the two requests a caller
// waits on. Rounds alternate the web and worker roles restarted with both
// off (METRICS_ADDR=off, no TRACE_FILE) and with both on (each process's
// /metrics scraped every second, as Prometheus would, and every span
// written to traces-<role>.jsonl), so drift over the run falls on both
// sides alike. Each round warms up, then drives ObserveRequests calls, c
// at a time, each as a browser and Twilio would: POST /calls, the voice
// webhook on its token, then the call's end (unanswered).
func (r *run) observability(ctx context.Context) error {
	if r.st == nil {
		r.rep.note("metrics and traces cost: not measured on a running stack (the bench restarts the roles to turn them off)")
		return nil
	}
	hc := &http.Client{Transport: newTransport(), Timeout: 20 * time.Second}
	people := r.app.people(ctx, r.interactive)
	calls := map[bool]*recorder{false: newRecorder(), true: newRecorder()}
	voice := map[bool]*recorder{false: newRecorder(), true: newRecorder()}
	warm, ends := newRecorder(), newRecorder()
	for i := range 2 * r.o.ObserveRounds {
		on := i%2 == 1
		r.progress("  round %d of %d: metrics and traces %s", i+1, 2*r.o.ObserveRounds, map[bool]string{true: "on", false: "off"}[on])
		if err := r.st.RestartRoles(ctx, on); err != nil {
			return fmt.Errorf("restart the roles: %w", err)
		}
		r.observedCalls(ctx, 5, people, hc, warm, warm, ends)
		r.settle(ctx, r.interactive)
		r.observedCalls(ctx, r.o.ObserveRequests, people, hc, calls[on], voice[on], ends)
		r.settle(ctx, r.interactive)
	}
	r.rep.setup(warm.row("observe_warmup", "POST /calls and the voice webhook after each restart, not counted"))
	r.rep.setup(ends.row("observe_ends", "the calls' unanswered endings"))
	pcOff := calls[false].row("post_calls_observe_off", fmt.Sprintf("POST /calls, c=%d, metrics and traces off", r.o.ObserveConcurrency))
	pcOn := calls[true].row("post_calls_observe_on", fmt.Sprintf("POST /calls, c=%d, metrics and traces on", r.o.ObserveConcurrency))
	vOff := voice[false].row("voice_observe_off", fmt.Sprintf("voice webhook, c=%d, metrics and traces off", r.o.ObserveConcurrency))
	vOn := voice[true].row("voice_observe_on", fmt.Sprintf("voice webhook, c=%d, metrics and traces on", r.o.ObserveConcurrency))
	r.rep.add(pcOff, pcOn, vOff, vOn)
	r.rep.ratio(ratio("POST /calls, observed/unobserved", pcOn, pcOff))
	r.rep.ratio(ratio("voice webhook, observed/unobserved", vOn, vOff))
	// The roles stay as the rest of the run had them.
	if err := r.st.RestartRoles(ctx, true); err != nil {
		return fmt.Errorf("restart the roles: %w", err)
	}
	t, err := tracing.ReadFiles(filepath.Join(r.o.Dir, "traces-web.jsonl"), filepath.Join(r.o.Dir, "traces-worker.jsonl"))
	if err != nil {
		return fmt.Errorf("read the traces: %w", err)
	}
	r.rep.Traces = t.Summary()
	return nil
}

// settle waits until every one of users has their call slot free: the
// round's calls are over before the roles restart. (Not quiesce: the voice
// phase leaves its claimed calls dialling on a stack the bench started.)
func (r *run) settle(ctx context.Context, users []*user) {
	for _, u := range users {
		if err := r.app.waitSlotFree(ctx, u, time.Minute); err != nil {
			r.rep.note("metrics and traces cost: %v", err)
			return
		}
	}
}

// observedCalls drives n calls, c at a time: POST /calls (into calls), the
// voice webhook (into voice), and the unanswered end (into ends).
func (r *run) observedCalls(ctx context.Context, n int, people *people, hc *http.Client, calls, voice, ends *recorder) {
	closedLoop(ctx, r.o.ObserveConcurrency, jobs(n), func(ctx context.Context, _, _ int) {
		u, err := people.get(ctx, 2*time.Minute)
		if err != nil {
			calls.fail("no person with a free slot for 2m")
			return
		}
		defer people.put(u)
		sc, took, err := r.app.startCall(ctx, u, numberAnswers)
		if err != nil {
			calls.fail(errorKind(err))
			return
		}
		calls.ok(took)
		v, err := r.app.voiceFor(sc, r.app.appVoiceURL(), r.app.webURL+"/api/webhooks/twilio/voice")
		if err != nil {
			voice.fail(errorKind(err))
			_ = r.app.hangUp(ctx, u, sc.CallID)
			return
		}
		start := time.Now()
		if err := sendVoice(ctx, hc, v); err != nil {
			voice.fail(errorKind(err))
			_ = r.app.hangUp(ctx, u, sc.CallID)
			return
		}
		voice.ok(time.Since(start))
		start = time.Now()
		if err := r.app.finishUnanswered(ctx, hc, v); err != nil {
			ends.fail(errorKind(err))
			return
		}
		ends.ok(time.Since(start))
	})
}
