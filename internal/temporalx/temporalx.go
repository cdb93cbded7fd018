// Package temporalx builds Temporal clients and workers from Mobayilo's
// configuration: zerolog as the SDK's logger, one log line per activity,
// the project's search attributes registered, and the schedules the worker
// owns created when absent.
package temporalx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/rs/zerolog"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/mobayilo/mobayilo/activities"
	"github.com/mobayilo/mobayilo/internal/codec"
	"github.com/mobayilo/mobayilo/workflows"
)

// Options are what a client needs; they come from config.Config.
type Options struct {
	Address   string
	Namespace string
	Logger    zerolog.Logger
	// Codec encrypts every payload (and failure) the client and its
	// workers send; nil sends plain JSON (development without a key).
	Codec *codec.Codec
	// Security: TLS, mTLS and the API key (security.go); zero is plaintext.
	Security Security
	// Metrics receives the SDK's own metrics (nil: none); Tracing, when
	// set, is the tracing interceptor of the client and its workers.
	Metrics client.MetricsHandler
	Tracing interceptor.ClientInterceptor
}

func (o Options) client() (client.Options, error) {
	opts := client.Options{
		HostPort:  o.Address,
		Namespace: o.Namespace,
		Logger:    NewLogger(o.Logger),
		// nil without a codec: the SDK's defaults.
		DataConverter:    o.dataConverter(),
		FailureConverter: o.failureConverter(),
		MetricsHandler:   o.Metrics,
	}
	if o.Tracing != nil {
		opts.Interceptors = []interceptor.ClientInterceptor{o.Tracing}
	}
	if onLoopback(o.Address) {
		// The SDK gzips every request (and the server its answers) by
		// default: on loopback that saves no bandwidth and costs CPU on
		// both sides of every poll and task completion (a CPU profile of
		// the web and worker roles under load showed it; docs/OPERATIONS.md,
		// Benchmarks). Across a network the SDK's default stands.
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	}
	if err := o.Security.apply(&opts); err != nil {
		return client.Options{}, err
	}
	return opts, nil
}

func (o Options) dataConverter() converter.DataConverter {
	if o.Codec == nil {
		return nil
	}
	return o.Codec.DataConverter()
}

func (o Options) failureConverter() converter.FailureConverter {
	if o.Codec == nil {
		return nil
	}
	return o.Codec.FailureConverter()
}

// onLoopback reports whether a host:port names this host: a loopback IP
// or localhost.
func onLoopback(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Dial connects to Temporal and fails if the frontend does not answer.
func Dial(ctx context.Context, o Options) (client.Client, error) {
	opts, err := o.client()
	if err != nil {
		return nil, err
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("temporal: connect to %s: %w", o.Address, err)
	}
	return c, nil
}

// Lazy returns a client that connects on first use, for the web role: it
// starts while Temporal is down and /readyz says so.
func Lazy(o Options) (client.Client, error) {
	opts, err := o.client()
	if err != nil {
		return nil, err
	}
	c, err := client.NewLazyClient(opts)
	if err != nil {
		return nil, fmt.Errorf("temporal: client for %s: %w", o.Address, err)
	}
	return c, nil
}

// RegisterSearchAttributes adds the project's search attributes (all
// Keyword) to namespace, skipping those already there. A dev server started
// by the project has them from its flags; this covers a reused server.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	existing, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("temporal: list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for _, name := range workflows.SearchAttributeNames() {
		if t, ok := existing.GetCustomAttributes()[name]; ok {
			if t != enumspb.INDEXED_VALUE_TYPE_KEYWORD {
				return fmt.Errorf("temporal: search attribute %s exists as %s, want Keyword", name, t)
			}
			continue
		}
		missing[name] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("temporal: add search attributes: %w", err)
	}
	return nil
}

// NewWorker returns a worker on taskQueue with every workflow and activity
// registered, logging one line per activity execution.
func NewWorker(c client.Client, taskQueue string, acts *activities.Activities, log zerolog.Logger) worker.Worker {
	return NewWorkerTuned(c, taskQueue, acts, log, Tuning{})
}

// Tuning sizes a worker; zero values keep the SDK's defaults.
type Tuning struct {
	// MaxPollers: workflow and activity task pollers each scale between 1
	// and this on the server's feedback (worker.NewPollerBehaviorAutoscaling).
	MaxPollers int
}

// NewWorkerTuned is NewWorker sized by t.
func NewWorkerTuned(c client.Client, taskQueue string, acts *activities.Activities, log zerolog.Logger, t Tuning) worker.Worker {
	o := worker.Options{
		Interceptors: []interceptor.WorkerInterceptor{&activityLogInterceptor{log: log}},
	}
	if t.MaxPollers > 0 {
		o.WorkflowTaskPollerBehavior = worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{MaximumNumberOfPollers: t.MaxPollers})
		o.ActivityTaskPollerBehavior = worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{MaximumNumberOfPollers: t.MaxPollers})
	}
	w := worker.New(c, taskQueue, o)
	workflows.Register(w)
	acts.Register(w)
	return w
}

// EnsureSchedules creates the schedules the worker owns when they are
// absent, and leaves existing ones (and operators' pauses) alone. The
// pricing sync is scheduled only when a carrier pricing API is there
// (Twilio's, or under `mobayilo dev` the carrier simulator's).
func EnsureSchedules(ctx context.Context, c client.Client, taskQueue string, pricingSync bool) error {
	schedules := []struct {
		id, cron, workflowID, workflow, purpose string
	}{
		{workflows.LedgerAuditScheduleID, workflows.LedgerAuditCron, workflows.LedgerAuditWorkflowID, workflows.LedgerAuditWorkflowName,
			"daily check that SUM(ledger) = cached balance for every wallet"},
		{workflows.HousekeepingScheduleID, workflows.HousekeepingCron, workflows.HousekeepingWorkflowID, workflows.HousekeepingWorkflowName,
			"daily pruning of sign-in failures, reset tokens, expired sessions and delivered webhook events past DATA_RETENTION"},
	}
	if pricingSync {
		schedules = append(schedules, struct{ id, cron, workflowID, workflow, purpose string }{
			workflows.PricingSyncScheduleID, workflows.PricingSyncCron, workflows.PricingSyncWorkflowID, workflows.PricingSyncWorkflowName,
			"daily repricing of the rate deck from Twilio's voice prices"})
	}
	for _, s := range schedules {
		_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
			ID:   s.id,
			Spec: client.ScheduleSpec{CronExpressions: []string{s.cron}},
			Action: &client.ScheduleWorkflowAction{
				ID:                  s.workflowID,
				Workflow:            s.workflow,
				TaskQueue:           taskQueue,
				WorkflowRunTimeout:  time.Hour,
				WorkflowTaskTimeout: 10 * time.Second,
			},
			Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
			Memo:    map[string]any{"purpose": s.purpose},
		})
		if err != nil && !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
			return fmt.Errorf("temporal: create schedule %s: %w", s.id, err)
		}
	}
	return nil
}

// activityLogInterceptor writes one line per activity execution, with the
// workflow and activity IDs, the attempt, the duration and the outcome.
type activityLogInterceptor struct {
	interceptor.WorkerInterceptorBase
	log zerolog.Logger
}

func (i *activityLogInterceptor) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	a := &activityLog{log: i.log}
	a.Next = next
	return a
}

type activityLog struct {
	interceptor.ActivityInboundInterceptorBase
	log zerolog.Logger
}

func (a *activityLog) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	info := activity.GetInfo(ctx)
	start := time.Now()
	out, err := a.Next.ExecuteActivity(ctx, in)
	e := a.log.Info()
	if err != nil {
		e = a.log.Warn().Err(err)
	}
	e.Str("activity", info.ActivityType.Name).
		Str("activity_id", info.ActivityID).
		Str("workflow_id", info.WorkflowExecution.ID).
		Str("run_id", info.WorkflowExecution.RunID).
		Int32("attempt", info.Attempt).
		Bool("local", info.IsLocalActivity).
		Dur("duration", time.Since(start)).
		Msg("activity")
	return out, err
}
