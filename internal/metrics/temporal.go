package metrics

import (
	"fmt"

	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// TemporalBuckets are the buckets of the Temporal SDK's latencies (workflow
// task execution, schedule-to-start, activity execution), in seconds.
var TemporalBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// TemporalHandler is the Temporal SDK's metrics handler (client.Options.
// MetricsHandler), through the OpenTelemetry contrib the SDK documents,
// exported into this registry: temporal_workflow_task_execution_latency_seconds,
// temporal_activity_schedule_to_start_latency_seconds,
// temporal_activity_execution_failed_total and the rest, labelled by the
// SDK's own bounded tags (namespace, task queue, workflow and activity type).
// A nil *Metrics answers the SDK's no-op handler.
func (m *Metrics) TemporalHandler() (client.MetricsHandler, error) {
	if m == nil {
		return client.MetricsNopHandler, nil
	}
	exporter, err := otelprom.New(otelprom.WithRegisterer(m.reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("metrics: temporal exporter: %w", err)
	}
	seconds := sdkmetric.NewView(sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram, Unit: "s"},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: TemporalBuckets}})
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter), sdkmetric.WithView(seconds))
	return temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter:                provider.Meter("temporal-sdk-go"),
		UseMonotonicCounters: true,
		// An instrument the exporter refuses is a metric lost, not a
		// reason to stop the worker.
		OnError: func(error) {},
	}), nil
}
