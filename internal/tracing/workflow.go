package tracing

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"

	"github.com/mobayilo/mobayilo/workflows"
)

// Carrier is ctx's span as a W3C trace context (traceparent, tracestate),
// for a signal's Trace field; nil when ctx holds no span, or tracing is off.
func Carrier(ctx context.Context) map[string]string {
	m := propagation.MapCarrier{}
	Propagator.Inject(ctx, m)
	if len(m) == 0 {
		return nil
	}
	return m
}

// spanKey is where the SDK's tracing interceptor keeps a workflow's current
// span on a workflow context (TracerOptions.SpanContextKey): ours, so the
// webhook parent interceptor can put one there.
type spanKey struct{}

// temporalInterceptor is the SDK's tracing interceptor, with one addition
// for workflows: an activity started under a context carrying
// workflows.TraceParentKey (the trace context of the webhook that set it
// off) is traced as that webhook request's child. The SDK parents it on
// the workflow's start otherwise: a final status callback's trace would
// end at the signal, and the charge sit in POST /calls's trace.
type temporalInterceptor struct {
	interceptor.Interceptor
	tracer interceptor.Tracer
}

func newTemporalInterceptor(o temporalotel.TracerOptions) (*temporalInterceptor, error) {
	o.SpanContextKey = spanKey{}
	tr, err := temporalotel.NewTracer(o)
	if err != nil {
		return nil, err
	}
	return &temporalInterceptor{Interceptor: interceptor.NewTracingInterceptor(tr), tracer: tr}, nil
}

// InterceptWorkflow puts the parent interceptor inside the tracing one: its
// outbound calls run first, and set the parent the tracing one reads.
func (t *temporalInterceptor) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return t.Interceptor.InterceptWorkflow(ctx, &parentInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, tracer: t.tracer})
}

type parentInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	tracer interceptor.Tracer
}

func (p *parentInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return p.Next.Init(&parentOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}, tracer: p.tracer})
}

type parentOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	tracer interceptor.Tracer
}

// withParent is ctx with the span of its webhook's trace context, where
// the tracing interceptor looks for its parent.
func (p *parentOutbound) withParent(ctx workflow.Context) workflow.Context {
	t, _ := ctx.Value(workflows.TraceParentKey).(map[string]string)
	if len(t) == 0 {
		return ctx
	}
	remote := Propagator.Extract(context.Background(), propagation.MapCarrier(t))
	span := p.tracer.SpanFromContext(remote)
	if span == nil {
		return ctx
	}
	return workflow.WithValue(ctx, spanKey{}, span)
}

func (p *parentOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	return p.Next.ExecuteActivity(p.withParent(ctx), activityType, args...)
}

func (p *parentOutbound) ExecuteLocalActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	return p.Next.ExecuteLocalActivity(p.withParent(ctx), activityType, args...)
}
