package telemetry

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
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
// The request's context carries the span, so GraphQL and SQL spans are its
// children.
func (t *Tracing) Handler(next http.Handler, route Route) http.Handler {
	if t.provider == nil {
		return next
	}
	tracer := t.Tracer()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := t.propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		_, pattern := route(r)
		ctx, span := tracer.Start(ctx, pattern,
			trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(requestAttributes(r, pattern)...))
		defer span.End()

		rec := record(w)
		next.ServeHTTP(rec, r.WithContext(ctx))

		status := rec.Status()
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		if n := rec.Written(); n > 0 {
			span.SetAttributes(semconv.HTTPResponseBodySize(int(n)))
		}
		// A server span fails on 5xx only: a 4xx is the client's error.
		switch {
		case status < 100 || status > 599:
			span.SetStatus(codes.Error, "invalid HTTP status code "+strconv.Itoa(status))
		case status >= 500:
			span.SetStatus(codes.Error, "")
		}
	})
}

// requestAttributes are the HTTP server semantic conventions' request
// attributes that operators filter and group by.
func requestAttributes(r *http.Request, pattern string) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 13)
	if known[r.Method] {
		attrs = append(attrs, semconv.HTTPRequestMethodKey.String(r.Method))
	} else {
		// Any token is a method; unknown ones are kept out of the (low
		// cardinality) method attribute.
		attrs = append(attrs, semconv.HTTPRequestMethodOther, semconv.HTTPRequestMethodOriginal(r.Method))
	}
	// The route is the pattern's path, without the method and host a mux
	// pattern may start with; "unmatched" has none and is no route.
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		attrs = append(attrs, semconv.HTTPRoute(pattern[i:]))
	}
	scheme, defaultPort := "http", 80
	if r.TLS != nil {
		scheme, defaultPort = "https", 443
	}
	attrs = append(attrs, semconv.URLScheme(scheme), semconv.URLPath(r.URL.Path))
	if host, port := splitHostPort(r.Host); host != "" {
		attrs = append(attrs, semconv.ServerAddress(host))
		if port > 0 && port != defaultPort {
			attrs = append(attrs, semconv.ServerPort(port))
		}
	}
	peer, peerPort := splitHostPort(r.RemoteAddr)
	if peer != "" {
		attrs = append(attrs, semconv.NetworkPeerAddress(peer))
		if peerPort > 0 {
			attrs = append(attrs, semconv.NetworkPeerPort(peerPort))
		}
	}
	// The client is the first address a proxy forwarded for, else the peer.
	client, _, _ := strings.Cut(r.Header.Get("X-Forwarded-For"), ",")
	if client = strings.TrimSpace(client); client == "" {
		client = peer
	}
	if client != "" {
		attrs = append(attrs, semconv.ClientAddress(client))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	if _, version, ok := strings.Cut(r.Proto, "/"); ok {
		attrs = append(attrs, semconv.NetworkProtocolVersion(version))
	}
	return attrs
}

// known are the methods http.request.method names; others are _OTHER.
var known = map[string]bool{
	http.MethodConnect: true, http.MethodDelete: true, http.MethodGet: true,
	http.MethodHead: true, http.MethodOptions: true, http.MethodPatch: true,
	http.MethodPost: true, http.MethodPut: true, http.MethodTrace: true,
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port"; the
// port is 0 when absent or invalid.
func splitHostPort(hostport string) (host string, port int) {
	h, p, err := net.SplitHostPort(hostport)
	if err != nil { // no port
		return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), 0
	}
	if n, err := strconv.ParseUint(p, 10, 16); err == nil {
		port = int(n)
	}
	return h, port
}

// Shutdown flushes spans still buffered.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.provider == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}
