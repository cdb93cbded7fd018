// Package tracing is OpenTelemetry tracing for a role: one trace follows
// POST /calls through the Temporal update, the authorize activity and back,
// and a status callback through the inbox, the signal and the charge, with
// each Postgres query a child span. Spans go by OTLP/HTTP to
// OTEL_EXPORTER_OTLP_ENDPOINT and/or as JSON lines to TRACE_FILE; with
// neither, the tracer is a no-op and costs next to nothing.
//
// Spans carry route patterns, workflow and activity types, and query names:
// never a phone number, a token or a query's arguments.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
)

// Options says where a role's spans go.
type Options struct {
	// Service names the role in every span ("mobayilo-web").
	Service string
	// OTLPEndpoint is an OTLP/HTTP collector's base URL; "" exports none.
	OTLPEndpoint string
	// File, when set, is appended one JSON line per span.
	File string
}

// Tracing is a role's tracer; the zero value and nil are off.
type Tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	file     *os.File
}

// Propagator is the W3C trace context (and baggage) across HTTP and
// Temporal headers.
var Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// New starts tracing as o says: off (a no-op tracer) when o names no
// destination.
func New(ctx context.Context, o Options) (*Tracing, error) {
	if o.OTLPEndpoint == "" && o.File == "" {
		return &Tracing{tracer: noop.NewTracerProvider().Tracer("mobayilo")}, nil
	}
	t := &Tracing{}
	var opts []sdktrace.TracerProviderOption
	if o.OTLPEndpoint != "" {
		// The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (and the rest of
		// OTEL_EXPORTER_OTLP_*) from the environment itself.
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(o.OTLPEndpoint+"/v1/traces"))
		if err != nil {
			return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	if o.File != "" {
		f, err := os.OpenFile(o.File, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("tracing: TRACE_FILE: %w", err)
		}
		exp, err := stdouttrace.New(stdouttrace.WithWriter(f))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("tracing: file exporter: %w", err)
		}
		t.file = f
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(o.Service)))
	if err != nil {
		res = resource.Default()
	}
	t.provider = sdktrace.NewTracerProvider(append(opts, sdktrace.WithResource(res))...)
	t.tracer = t.provider.Tracer("github.com/mobayilo/mobayilo")
	return t, nil
}

// Enabled says whether spans go anywhere.
func (t *Tracing) Enabled() bool { return t != nil && t.provider != nil }

// Tracer is the role's tracer (a no-op one when off).
func (t *Tracing) Tracer() trace.Tracer {
	if t == nil || t.tracer == nil {
		return noop.NewTracerProvider().Tracer("mobayilo")
	}
	return t.tracer
}

// Shutdown exports the spans still buffered and closes the file.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	err := t.provider.Shutdown(ctx)
	if t.file != nil {
		err = errors.Join(err, t.file.Close())
	}
	return err
}

// TemporalInterceptor is the Temporal SDK's tracing interceptor over this
// tracer (for client.Options.Interceptors: it traces the client's calls and
// the workers built on it); nil when tracing is off.
func (t *Tracing) TemporalInterceptor() (interceptor.ClientInterceptor, error) {
	if !t.Enabled() {
		return nil, nil
	}
	return newTemporalInterceptor(temporalotel.TracerOptions{Tracer: t.tracer, TextMapPropagator: Propagator})
}

// QueryTracer makes each Postgres query a child span of the context's span,
// named after sqlc's query name; nil when tracing is off.
func (t *Tracing) QueryTracer() pgx.QueryTracer {
	if !t.Enabled() {
		return nil
	}
	return queryTracer{tracer: t.tracer}
}

type queryTracer struct{ tracer trace.Tracer }

// sqlcName finds the query's name in the comment sqlc puts first.
var sqlcName = regexp.MustCompile(`^-- name: (\w+)`)

func (q queryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	// A query outside any trace (a background loop's) starts none.
	if !trace.SpanFromContext(ctx).SpanContext().IsValid() {
		return ctx
	}
	name := "query"
	if m := sqlcName.FindStringSubmatch(data.SQL); m != nil {
		name = m[1]
	}
	ctx, _ = q.tracer.Start(ctx, "db "+name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(semconv.DBSystemPostgreSQL, attribute.String("db.operation.name", name)))
	return ctx
}

func (q queryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	if data.Err != nil && !errors.Is(data.Err, pgx.ErrNoRows) {
		span.SetStatus(codes.Error, "query failed")
	}
	span.SetAttributes(attribute.Int64("db.rows_affected", data.CommandTag.RowsAffected()))
	span.End()
}
