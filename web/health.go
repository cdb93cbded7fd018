package web

import (
	"context"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"
)

// showHealth says the process is up. It checks nothing else, so a
// dependency outage never gets a healthy process restarted.
func (s *Server) showHealth(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
}

type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// showReadiness says whether this instance can serve: Postgres and Temporal
// both answer. Causes go to the log, not to the caller.
func (s *Server) showReadiness(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	log := zerolog.Ctx(r.Context())

	out := readiness{Status: "ok", Checks: map[string]string{"postgres": "ok", "temporal": "ok"}}
	if err := s.pool.Ping(ctx); err != nil {
		log.Warn().Err(err).Msg("readiness: postgres unavailable")
		out.Status, out.Checks["postgres"] = "unavailable", "unavailable"
	}
	if _, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		log.Warn().Err(err).Msg("readiness: temporal unavailable")
		out.Status, out.Checks["temporal"] = "unavailable", "unavailable"
	}
	status := http.StatusOK
	if out.Status != "ok" {
		status = http.StatusServiceUnavailable
	}
	s.writeJSON(w, r, status, out)
}
