package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/jobs"
	"github.com/mobayilo/mobayilo/internal/metrics"
	"github.com/mobayilo/mobayilo/internal/temporalx"
	"github.com/mobayilo/mobayilo/internal/tracing"
)

// Each role's metrics port on loopback when METRICS_ADDR is unset: web
// (and dev, both roles in one process) and worker apart, so both run on
// one host as they are.
var defaultMetricsAddr = map[string]string{"web": "127.0.0.1:9464", "dev": "127.0.0.1:9464", "worker": "127.0.0.1:9465"}

// observability is a role's metrics and tracing.
type observability struct {
	metrics *metrics.Metrics
	tracing *tracing.Tracing
	addr    string // the metrics listener's; "" none
	pprof   string // the profiler's listener (PPROF_ADDR); "" none
	// ready answers the listener's /readyz (the worker has no other HTTP
	// port for a health check); nil: always ready.
	ready func(context.Context) error
}

// observe sets up the role's metrics (served on METRICS_ADDR by job) and
// its tracing (OTEL_EXPORTER_OTLP_ENDPOINT, TRACE_FILE); shut it down
// after the role stops, to export the spans still buffered.
func observe(ctx context.Context, cfg config.Config, role string) (*observability, error) {
	t, err := tracing.New(ctx, tracing.Options{Service: "mobayilo-" + role, OTLPEndpoint: cfg.OTLPEndpoint, File: cfg.TraceFile})
	if err != nil {
		return nil, err
	}
	o := &observability{metrics: metrics.New(), tracing: t, addr: cfg.MetricsAddr, pprof: cfg.PprofAddr}
	switch o.addr {
	case "":
		o.addr = defaultMetricsAddr[role]
	case "off":
		o.addr = ""
	}
	return o, nil
}

// openDB is the role's Postgres pool, its queries traced.
func (o *observability) openDB(ctx context.Context, cfg config.Config) (*pgxpool.Pool, error) {
	return db.OpenTraced(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns, o.tracing.QueryTracer())
}

// temporal adds the SDK's metrics handler and tracing interceptor to opts.
func (o *observability) temporal(opts temporalx.Options) (temporalx.Options, error) {
	h, err := o.metrics.TemporalHandler()
	if err != nil {
		return opts, err
	}
	opts.Metrics = h
	if opts.Tracing, err = o.tracing.TemporalInterceptor(); err != nil {
		return opts, fmt.Errorf("tracing: temporal interceptor: %w", err)
	}
	return opts, nil
}

// readiness makes the listener's /readyz say whether Postgres and Temporal
// answer, as the web role's own /readyz does.
func (o *observability) readiness(pool *pgxpool.Pool, tc client.Client) {
	o.ready = func(ctx context.Context) error {
		if err := pool.Ping(ctx); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		if _, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			return fmt.Errorf("temporal: %w", err)
		}
		return nil
	}
}

// job serves /metrics on the metrics address until ctx ends (none when
// metrics are off), and Go's profiler on PPROF_ADDR when that is set.
func (o *observability) job(log zerolog.Logger) []jobs.Job {
	var js []jobs.Job
	if o.addr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", o.metrics.Handler())
		mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
			if o.ready != nil {
				ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
				defer cancel()
				if err := o.ready(ctx); err != nil {
					log.Warn().Err(err).Msg("readiness: unavailable")
					http.Error(w, "unavailable", http.StatusServiceUnavailable)
					return
				}
			}
			_, _ = w.Write([]byte("ok\n"))
		})
		js = append(js, listenJob("metrics", "METRICS_ADDR; off for none", o.addr, mux, 0, log))
	}
	if o.pprof != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		// A CPU profile or trace takes as long as it is asked to.
		js = append(js, listenJob("pprof", "PPROF_ADDR", o.pprof, mux, 5*time.Minute, log))
	}
	return js
}

// listenJob serves h on addr until ctx ends; writeTimeout 0 is none.
func listenJob(name, setting, addr string, h http.Handler, writeTimeout time.Duration, log zerolog.Logger) jobs.Job {
	return jobs.Job{Name: name, Run: func(ctx context.Context) error {
		l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: listen on %s (%s): %w", name, addr, setting, err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: writeTimeout}
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(l) }()
		log.Info().Str("addr", l.Addr().String()).Msg(name + " listening")
		select {
		case err := <-errc:
			return fmt.Errorf("%s: %w", name, err)
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}}
}

// shutdown exports the spans still buffered.
func (o *observability) shutdown(log zerolog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.tracing.Shutdown(ctx); err != nil {
		log.Warn().Err(err).Msg("tracing: shutdown")
	}
}
