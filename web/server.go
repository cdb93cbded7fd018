// Package web is Mobayilo's HTTP layer: the router, handlers one file per
// area, middleware and response helpers.
package web

import (
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"

	"github.com/mobayilo/mobayilo/internal/config"
)

// Server holds the dependencies of every handler.
type Server struct {
	cfg      config.Config
	pool     *pgxpool.Pool
	temporal client.Client
	log      zerolog.Logger
}

// New returns the server; Handler gives its router.
func New(cfg config.Config, pool *pgxpool.Pool, temporal client.Client, log zerolog.Logger) *Server {
	return &Server{cfg: cfg, pool: pool, temporal: temporal, log: log}
}

// HTTPServer wraps h with the timeouts every listener of ours uses. Handlers
// that stream (SSE) clear the write deadline for their own request.
func HTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}
