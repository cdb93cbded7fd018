package web

import (
	"context"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/google/uuid"
)

const requestIDHeader = "X-Request-Id"

// requestID gives every request an id of our own, in the context where
// chi's middleware.GetReqID finds it and in the X-Request-Id answer (for a
// person quoting it to support). chi's middleware.RequestID would adopt
// the client's X-Request-Id instead, so anyone could choose the id their
// requests are logged under, or reuse another request's to muddle a trail.
// The client's header is logged, separately, as client_request_id.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := uuid.NewString()
		w.Header().Set(requestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), middleware.RequestIDKey, id)))
	})
}

// clientRequestID is the client's own X-Request-Id, cut to a length fit
// for a log line.
func clientRequestID(r *http.Request) string {
	v := r.Header.Get(requestIDHeader)
	if len(v) > 64 {
		v = v[:64]
	}
	return v
}

// logRequests writes one line per request. It logs the path without the
// query string: queries may carry phone numbers or reset tokens.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		reqID := middleware.GetReqID(r.Context())
		ctx := s.log.With().Str("request_id", reqID).Logger().WithContext(r.Context())
		next.ServeHTTP(ww, r.WithContext(ctx))
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		e := s.log.Info()
		if status >= 500 {
			e = s.log.Error()
		}
		e.Str("request_id", reqID).
			Str("method", r.Method).
			Str("path", r.URL.Path).
			Int("status", status).
			Int("bytes", ww.BytesWritten()).
			Dur("duration", time.Since(start)).
			Str("remote", s.clientIP(r)).
			Str("peer", r.RemoteAddr)
		if v := clientRequestID(r); v != "" {
			e.Str("client_request_id", v)
		}
		e.Msg("request")
	})
}

// recoverPanics turns a handler panic into a logged 500.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error().Str("request_id", middleware.GetReqID(r.Context())).
					Interface("panic", v).Bytes("stack", debug.Stack()).Msg("handler panicked")
				http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
