package tracing

import (
	"bytes"
	"context"
	"math"
	"testing"

	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// What the SDK's file exporter writes reads back as traces: roots, their
// children across two services, and the share of traces reaching a span.
func TestSpansReadBackAsTraces(t *testing.T) {
	var buf bytes.Buffer
	exp, err := stdouttrace.New(stdouttrace.WithWriter(&buf))
	if err != nil {
		t.Fatal(err)
	}
	provider := func(service string) *sdktrace.TracerProvider {
		return sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
			sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(service))))
	}
	web, worker := provider("mobayilo-web"), provider("mobayilo-worker")
	ctx := context.Background()
	for i := range 4 {
		rctx, root := web.Tracer("t").Start(ctx, "POST /calls")
		_, upd := web.Tracer("t").Start(rctx, "UpdateWithStartWorkflow:authorize")
		if i < 3 { // one of the four never reached the worker
			_, act := worker.Tracer("t").Start(rctx, "RunActivity:AuthorizeCall")
			act.End()
		}
		upd.End()
		root.End()
	}
	_, other := web.Tracer("t").Start(ctx, "GET /healthz")
	other.End()

	spans, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 4*2+3+1 {
		t.Fatalf("%d spans read", len(spans))
	}
	s := spans.Summary()
	if s.Traces != 5 {
		t.Errorf("%d traces, want 5", s.Traces)
	}
	calls := s.Root("POST /calls")
	if calls.Traces != 4 {
		t.Fatalf("POST /calls: %d traces, want 4", calls.Traces)
	}
	if got := calls.Reached("RunActivity:AuthorizeCall"); math.Abs(got-0.75) > 1e-9 {
		t.Errorf("reached the activity in %v, want 0.75", got)
	}
	if got := calls.Services["mobayilo-worker"]; math.Abs(got-0.75) > 1e-9 {
		t.Errorf("reached the worker in %v, want 0.75", got)
	}
	if calls.Reached("db ") != 0 {
		t.Error("a span never written was reached")
	}
	if s.Root("GET /healthz").Traces != 1 {
		t.Error("the second root is missing")
	}
	// A torn last line (a process killed mid-write) is not an error.
	torn := append([]byte(nil), `{"Name":"x","SpanContext":{"TraceID":"ab","SpanID":"cd"`...)
	if got, err := Read(bytes.NewReader(torn)); err != nil || len(got) != 0 {
		t.Errorf("torn line: %v, %d spans", err, len(got))
	}
}
