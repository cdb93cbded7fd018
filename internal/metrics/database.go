package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mobayilo/mobayilo/db"
)

// StuckAfter is how long a call may be over and unbilled before it counts
// as stuck in billing.
const StuckAfter = 15 * time.Minute

// database reads, at each scrape, the gauges that are facts of the
// database rather than of one process: the inbox's backlog and the calls
// awaiting billing. Every instance reports the same values.
type database struct {
	q       *db.Queries
	timeout time.Duration

	inboxWaiting, inboxOldest, awaiting, stuck, awaitingOldest, up *prometheus.Desc
}

// WatchDatabase adds the database's gauges to the registry.
func (m *Metrics) WatchDatabase(conn db.DBTX) {
	if m == nil {
		return
	}
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, nil, nil)
	}
	d := &database{q: db.New(conn), timeout: 3 * time.Second,
		inboxWaiting:   desc("webhook_inbox_waiting", "Stored webhooks not yet delivered to their workflow."),
		inboxOldest:    desc("webhook_inbox_oldest_age_seconds", "Age of the oldest stored webhook not yet delivered (0 when none)."),
		awaiting:       desc("calls_awaiting_billing", "Calls over (completed) and not yet billed, including those marked stuck."),
		stuck:          desc("calls_stuck_in_billing", "Calls over and unbilled for more than 15 minutes, or marked stuck for support."),
		awaitingOldest: desc("calls_awaiting_billing_oldest_age_seconds", "How long the oldest call awaiting billing has been over (0 when none)."),
		up:             desc("database_gauges_up", "1 when the last scrape read the database's gauges, 0 when the database did not answer."),
	}
	m.reg.MustRegister(d)
	m.ours = append(m.ours, d)
}

func (d *database) Describe(ch chan<- *prometheus.Desc) {
	for _, x := range []*prometheus.Desc{d.inboxWaiting, d.inboxOldest, d.awaiting, d.stuck, d.awaitingOldest, d.up} {
		ch <- x
	}
}

func (d *database) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	gauge := func(desc *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v)
	}
	inbox, err := d.q.InboxBacklog(ctx)
	if err != nil {
		gauge(d.up, 0)
		return
	}
	calls, err := d.q.CallsAwaitingBilling(ctx, StuckAfter.Seconds())
	if err != nil {
		gauge(d.up, 0)
		return
	}
	gauge(d.up, 1)
	gauge(d.inboxWaiting, float64(inbox.Waiting))
	gauge(d.inboxOldest, inbox.OldestAgeSeconds)
	gauge(d.awaiting, float64(calls.Awaiting))
	gauge(d.stuck, float64(calls.Stuck))
	gauge(d.awaitingOldest, calls.OldestAgeSeconds)
}
