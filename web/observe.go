package web

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/mobayilo/mobayilo/internal/tracing"
)

// observe times every request into the metrics, by the route pattern chi
// matched (never the path: it may hold ids), and traces it: a server span
// named after the route, continuing a caller's W3C traceparent.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := tracing.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := s.tracer.Start(ctx, "HTTP "+r.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method)))
		ww, ok := w.(middleware.WrapResponseWriter)
		if !ok {
			ww = middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		}
		next.ServeHTTP(ww, r.WithContext(ctx))
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		route := ""
		if rc := chi.RouteContext(r.Context()); rc != nil {
			route = rc.RoutePattern()
		}
		s.metrics.HTTPRequest(route, r.Method, status, time.Since(start))
		if span.IsRecording() {
			if route != "" {
				span.SetName(r.Method + " " + route)
				span.SetAttributes(attribute.String("http.route", route))
			}
			span.SetAttributes(attribute.Int("http.response.status_code", status))
			if status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
		}
		span.End()
	})
}

// Webhook sources, as the webhook metrics label them.
const (
	sourceTwilioVoice  = "twilio_voice"
	sourceTwilioStatus = "twilio_status"
	sourceTwilioAction = "twilio_dial_action"
	sourceStripe       = "stripe"
)

type refusalKey struct{}

// countWebhooks counts each delivery as it arrives (before it is
// authenticated) and, when it is answered with an error or a handler named
// a refusal (refuseWebhook), the refusal and its reason.
func (s *Server) countWebhooks(source func(*http.Request) string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			src := source(r)
			s.metrics.WebhookReceived(src)
			reason := new(string)
			ww, ok := w.(middleware.WrapResponseWriter)
			if !ok {
				ww = middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			}
			next.ServeHTTP(ww, r.WithContext(context.WithValue(r.Context(), refusalKey{}, reason)))
			switch status := ww.Status(); {
			case *reason != "":
				s.metrics.WebhookRefused(src, *reason)
			case status >= 500:
				s.metrics.WebhookRefused(src, "unavailable")
			case status >= 400:
				s.metrics.WebhookRefused(src, "bad_request")
			}
		})
	}
}

// refuseWebhook answers a webhook with an error and names the reason its
// refusal is counted under (a word from a fixed set: it is a label).
func refuseWebhook(w http.ResponseWriter, r *http.Request, code int, reason, msg string) {
	noteRefusal(r, reason)
	http.Error(w, msg, code)
}

// noteRefusal names the reason of a refusal that is not an error answer
// (the voice webhook refuses a call with TwiML that hangs up).
func noteRefusal(r *http.Request, reason string) {
	if p, ok := r.Context().Value(refusalKey{}).(*string); ok {
		*p = reason
	}
}

func twilioSource(r *http.Request) string {
	switch {
	case r.URL.Path == "/api/webhooks/twilio/voice":
		return sourceTwilioVoice
	case r.URL.Query().Get("event") == "dial-action":
		return sourceTwilioAction
	}
	return sourceTwilioStatus
}

func stripeSource(*http.Request) string { return sourceStripe }
