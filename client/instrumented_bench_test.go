package client_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	nooptrace "go.opentelemetry.io/otel/trace/noop"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/client"
	"github.com/gokentik/kentik/kentikotel"
	"github.com/gokentik/kentik/kentikprom"
)

// BenchmarkUnaryInstrumented is BenchmarkUnary's interleaved ratio with instrumentation
// on the chain: a do-nothing observer (the cost of the hooks themselves), Prometheus
// (kentikprom), OpenTelemetry (kentikotel: every call traced and sampled, spans batched
// to an exporter that drops them, measurements aggregated by the SDK; then traces alone,
// all sampled or one call in ten: metrics are Prometheus' job), and both. Run:
//
//	go test -run '^$' -bench 'UnaryInstrumented' -benchmem -count 5 ./client
//
// Target: chain/bare <= 1.10 with both on.
func BenchmarkUnaryInstrumented(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts func(b *testing.B) []client.Option
	}{
		{"nop-observer", func(*testing.B) []client.Option {
			return []client.Option{client.WithObserver(kentik.NopObserver{})}
		}},
		{"prom", func(b *testing.B) []client.Option { return []client.Option{promOption(b)} }},
		{"otel-observer-only", func(b *testing.B) []client.Option {
			// kentikotel's own part, without otelgrpc's stats handler.
			return []client.Option{client.WithObserver(otelTelemetry(b, true, true, 1))}
		}},
		{"otel", func(b *testing.B) []client.Option { return []client.Option{otelOption(b, true, true, 1)} }},
		{"otel-traces", func(b *testing.B) []client.Option { return []client.Option{otelOption(b, true, false, 1)} }},
		{"otel-traces-10pc", func(b *testing.B) []client.Option { return []client.Option{otelOption(b, true, false, 0.1)} }},
		{"prom+otel", func(b *testing.B) []client.Option {
			return []client.Option{promOption(b), otelOption(b, true, true, 1)}
		}},
		{"prom+otel-traces", func(b *testing.B) []client.Option {
			return []client.Option{promOption(b), otelOption(b, true, false, 1)}
		}},
		{"prom+otel-traces-10pc", func(b *testing.B) []client.Option {
			return []client.Option{promOption(b), otelOption(b, true, false, 0.1)}
		}},
	} {
		b.Run("ratio-"+tc.name, func(b *testing.B) { client.BenchRatio(b, tc.opts(b)...) })
	}
}

func promOption(b *testing.B) client.Option {
	m, err := kentikprom.New(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	return m.ClientOption()
}

// otelOption is kentikotel's client option with the SDK's tracer provider (sampling the given share of
// calls, batching spans to an exporter that drops them) and meter provider (aggregating
// for a reader), or with OpenTelemetry's no-op providers where traces or metrics are off.
func otelOption(b *testing.B, traces, metrics bool, sampled float64) client.Option {
	return otelTelemetry(b, traces, metrics, sampled).ClientOption()
}

func otelTelemetry(b *testing.B, traces, metrics bool, sampled float64) *kentikotel.Telemetry {
	var opts []kentikotel.Option
	if traces {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()),
			sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(sampled))))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		opts = append(opts, kentikotel.WithTracerProvider(tp))
	} else {
		opts = append(opts, kentikotel.WithTracerProvider(nooptrace.NewTracerProvider()))
	}
	if metrics {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
		opts = append(opts, kentikotel.WithMeterProvider(mp))
	} else {
		opts = append(opts, kentikotel.WithMeterProvider(noopmetric.NewMeterProvider()))
	}
	tel, err := kentikotel.New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	return tel
}
