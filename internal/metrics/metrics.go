// Package metrics is what each role counts and times, for Prometheus: HTTP
// requests, webhook deliveries and the inbox, calls, authorizations and
// billing lag, top-ups and credit lag, ledger postings and the ledger
// audit, and the Temporal SDK's own metrics. Every label takes values from a
// bounded set (a route pattern, a status word, a country code): never a
// user, a number or a call.
//
// A nil *Metrics counts nothing, so code that is handed none (a test, a
// command-line tool) needs no branch of its own.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric of ours.
const Namespace = "mobayilo"

// LagBuckets are the buckets of the billing and credit lags, in seconds:
// fine where the fast path lives (under a second), coarse up to the 15
// minutes after which a call counts as stuck.
var LagBuckets = []float64{0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 30, 60, 120, 300, 900}

// HTTPBuckets are the request latency buckets, in seconds.
var HTTPBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20}

// Metrics holds one role's instruments and the registry they are in.
type Metrics struct {
	reg *prometheus.Registry
	// ours: every collector of ours, for Names.
	ours []prometheus.Collector

	httpRequests     *prometheus.HistogramVec
	webhooksReceived *prometheus.CounterVec
	webhooksRefused  *prometheus.CounterVec
	inboxDeliveries  *prometheus.CounterVec
	callsFinished    *prometheus.CounterVec
	authorizations   *prometheus.CounterVec
	billingLag       prometheus.Histogram
	topUps           *prometheus.CounterVec
	creditLag        prometheus.Histogram
	ledgerPostings   *prometheus.CounterVec
	auditOK          prometheus.Gauge
	auditProblems    prometheus.Gauge
	auditRanAt       prometheus.Gauge
}

// New returns a role's metrics in a registry of their own, beside the Go
// runtime's and the process's.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		m.ours = append(m.ours, c)
		return c
	}
	histogram := func(name, help string, buckets []float64) prometheus.Histogram {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets})
		m.reg.MustRegister(h)
		m.ours = append(m.ours, h)
		return h
	}
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help})
		m.reg.MustRegister(g)
		m.ours = append(m.ours, g)
		return g
	}
	m.httpRequests = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "http_request_duration_seconds",
		Help: "HTTP requests by route pattern, method and status code, and how long they took.", Buckets: HTTPBuckets},
		[]string{"route", "method", "code"})
	m.reg.MustRegister(m.httpRequests)
	m.ours = append(m.ours, m.httpRequests)
	m.webhooksReceived = counter("webhooks_received_total", "Webhook deliveries received, before authentication, by source (twilio_voice, twilio_status, twilio_dial_action, stripe).", "source")
	m.webhooksRefused = counter("webhooks_refused_total", "Webhook deliveries answered with a 4xx or 5xx, by source and reason.", "source", "reason")
	m.inboxDeliveries = counter("webhook_inbox_deliveries_total", "Attempts to deliver a stored webhook to its workflow, by result (delivered; dropped: its workflow is not running; failed: retried later).", "result")
	m.callsFinished = counter("calls_finished_total", "Calls whose billing was settled (charged or not billable), by final status and destination country (ISO code, or unknown).", "status", "country")
	m.authorizations = counter("call_authorizations_total", "Call authorizations decided, by result (authorized, refused) and refusal reason (empty when authorized).", "result", "reason")
	m.billingLag = histogram("call_billing_lag_seconds", "From the final status callback's arrival to the call's charge committed.", LagBuckets)
	m.topUps = counter("topups_total", "Top-ups that reached an outcome (credited, failed, canceled, reversed, stuck).", "outcome")
	m.creditLag = histogram("topup_credit_lag_seconds", "From Stripe's confirming webhook's arrival to the top-up's credit committed.", LagBuckets)
	m.ledgerPostings = counter("ledger_postings_total", "Ledger entries posted (a replayed posting is not counted), by kind.", "kind")
	m.auditOK = gauge("ledger_audit_ok", "1 when the last ledger audit this process ran found the books balanced, 0 when it found problems.")
	m.auditProblems = gauge("ledger_audit_problems", "Problems the last ledger audit this process ran found.")
	m.auditRanAt = gauge("ledger_audit_last_run_timestamp_seconds", "When this process last ran the ledger audit (Unix time).")
	return m
}

// Names are the names of every metric of ours in the registry (a
// histogram's family name, without _bucket, _sum and _count), for the
// checks of the alerts and the dashboard.
func (m *Metrics) Names() []string {
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range m.ours {
			c.Describe(ch)
		}
		close(ch)
	}()
	var out []string
	for d := range ch {
		// A Desc names itself only in its String: fqName: "…".
		s := d.String()
		if i := strings.Index(s, `fqName: "`); i >= 0 {
			rest := s[i+len(`fqName: "`):]
			out = append(out, rest[:strings.IndexByte(rest, '"')])
		}
	}
	return out
}

// Registry is where the role's metrics are, for more collectors (the
// database's gauges, the Temporal SDK's).
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the registry in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// HTTPRequest records one request: route is the router's pattern ("" for
// a request no route matched, recorded as "unmatched").
func (m *Metrics) HTTPRequest(route, method string, code int, took time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		route = "unmatched"
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
	default:
		method = "other"
	}
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(code)).Observe(took.Seconds())
}

// WebhookReceived counts a delivery as it arrives.
func (m *Metrics) WebhookReceived(source string) {
	if m != nil {
		m.webhooksReceived.WithLabelValues(source).Inc()
	}
}

// WebhookRefused counts a delivery answered with an error, and why.
func (m *Metrics) WebhookRefused(source, reason string) {
	if m != nil {
		m.webhooksRefused.WithLabelValues(source, reason).Inc()
	}
}

// InboxDelivery counts one delivery attempt of a stored webhook: result is
// delivered, dropped (its workflow is not running) or failed (retried).
func (m *Metrics) InboxDelivery(result string) {
	if m != nil {
		m.inboxDeliveries.WithLabelValues(result).Inc()
	}
}

// CallFinished counts a call whose billing settled. lag is from the final
// callback's arrival to the charge committed, zero when not known (the
// final status was read from the carrier's API, or nothing was charged).
func (m *Metrics) CallFinished(status, country string, lag time.Duration) {
	if m == nil {
		return
	}
	if country == "" {
		country = "unknown"
	}
	m.callsFinished.WithLabelValues(status, country).Inc()
	if lag > 0 {
		m.billingLag.Observe(lag.Seconds())
	}
}

// Authorized counts an authorization decided: reason is empty for a call
// authorized, the refusal code otherwise.
func (m *Metrics) Authorized(reason string) {
	if m == nil {
		return
	}
	if reason == "" {
		m.authorizations.WithLabelValues("authorized", "").Inc()
	} else {
		m.authorizations.WithLabelValues("refused", reason).Inc()
	}
}

// TopUp counts a top-up's outcome; lag (credited only, zero when not
// known) is from Stripe's confirming webhook's arrival to the credit.
func (m *Metrics) TopUp(outcome string, lag time.Duration) {
	if m == nil {
		return
	}
	m.topUps.WithLabelValues(outcome).Inc()
	if lag > 0 {
		m.creditLag.Observe(lag.Seconds())
	}
}

// LedgerPosted counts an entry posted (not a replay).
func (m *Metrics) LedgerPosted(kind string) {
	if m != nil {
		m.ledgerPostings.WithLabelValues(kind).Inc()
	}
}

// LedgerAudited records the ledger audit's result.
func (m *Metrics) LedgerAudited(ok bool, problems int, at time.Time) {
	if m == nil {
		return
	}
	m.auditOK.Set(map[bool]float64{true: 1, false: 0}[ok])
	m.auditProblems.Set(float64(problems))
	m.auditRanAt.Set(float64(at.Unix()))
}
