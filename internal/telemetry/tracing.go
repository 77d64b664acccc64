package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TracingConfig says where spans go. An empty Endpoint turns tracing off:
// no provider, no exporter, no instrumentation in the request path.
type TracingConfig struct {
	Endpoint    string // OTEL_EXPORTER_OTLP_ENDPOINT, e.g. http://collector:4318
	ServiceName string // OTEL_SERVICE_NAME
	Exporter    ExporterOptions
}

// Tracing is an OTLP/HTTP trace pipeline, or nothing.
type Tracing struct {
	provider   *sdktrace.TracerProvider
	propagator propagation.TextMapPropagator
}

// NewTracing starts exporting spans to cfg.Endpoint (its /v1/traces path),
// batched. With no endpoint it returns a disabled Tracing.
func NewTracing(ctx context.Context, cfg TracingConfig) (*Tracing, error) {
	if cfg.Endpoint == "" {
		return &Tracing{}, nil
	}
	endpoint := strings.TrimSuffix(cfg.Endpoint, "/") + "/v1/traces"
	exporter, err := otlptrace.New(ctx, newOTLPHTTPClient(endpoint, cfg.Exporter))
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter for %s: %w", endpoint, err)
	}
	name := cfg.ServiceName
	if name == "" {
		name = "sessionhub"
	}
	return &Tracing{
		provider: sdktrace.NewTracerProvider(
			sdktrace.WithBatcher(exporter),
			sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", name))),
		),
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}, nil
}

// Enabled reports whether spans are exported.
func (t *Tracing) Enabled() bool { return t.provider != nil }

// Provider is the tracer provider for instrumentation, nil when disabled.
func (t *Tracing) Provider() trace.TracerProvider {
	if t.provider == nil {
		return nil
	}
	return t.provider
}

// Tracer names sessionhub's own spans; nil when disabled.
func (t *Tracing) Tracer() trace.Tracer {
	if t.provider == nil {
		return nil
	}
	return t.provider.Tracer("sessionhub")
}

// Handler wraps next in a server span per request named after its route
// (continuing a caller's W3C trace context); without tracing it is next.
func (t *Tracing) Handler(next http.Handler, route Route) http.Handler {
	if t.provider == nil {
		return next
	}
	return otelhttp.NewHandler(next, "http",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(t.propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			_, pattern := route(r)
			return pattern
		}),
	)
}

// Shutdown flushes spans still buffered.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.provider == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}
