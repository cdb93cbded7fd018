package workflows

import "go.temporal.io/sdk/workflow"

// traceParentKey holds, on a workflow context, the W3C trace context of
// the webhook that set off what runs under it (a signal's Trace).
type traceParentKey struct{}

// TraceParentKey is read by the worker's tracing interceptor
// (internal/tracing): activities started under a context carrying it are
// traced as children of that webhook's request, not of the workflow's
// start, so one trace follows a final status callback to its charge.
var TraceParentKey = traceParentKey{}

// withTrace is ctx carrying the trace context t; ctx itself when t is
// empty (tracing off, or a history from before signals carried it). It
// schedules nothing: replays are unchanged.
func withTrace(ctx workflow.Context, t map[string]string) workflow.Context {
	if len(t) == 0 {
		return ctx
	}
	return workflow.WithValue(ctx, TraceParentKey, t)
}
