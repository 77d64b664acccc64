package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// newRecordedTracing is a Tracing whose spans stay in memory.
func newRecordedTracing() (*Tracing, *tracetest.SpanRecorder) {
	spans := tracetest.NewSpanRecorder()
	return &Tracing{
		provider:   sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)),
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}, spans
}

func TestTracingHandler(t *testing.T) {
	tracing, spans := newRecordedTracing()
	route := func(r *http.Request) (string, string) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			return "rest", "POST /api/things/{id}"
		}
		return "ops", "unmatched"
	}
	var child trace.SpanContext
	handler := tracing.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Spans started from the request's context hang under the server span.
		_, span := tracing.Tracer().Start(r.Context(), "UPDATE things")
		child = span.SpanContext()
		span.End()
		status := http.StatusOK
		if s := r.URL.Query().Get("status"); s != "" {
			status = map[string]int{"404": 404, "500": 500, "503": 503}[s]
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "body")
	}), route)
	srv := httptest.NewServer(handler)
	defer srv.Close()

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	tests := []struct {
		path, traceparent string
		name              string
		route             string // "" means no http.route
		status            int
		wantStatus        codes.Code
	}{
		{"/api/things/1", "00-" + traceID + "-" + parentID + "-01", "POST /api/things/{id}", "/api/things/{id}", 200, codes.Unset},
		{"/api/things/1?status=404", "", "POST /api/things/{id}", "/api/things/{id}", 404, codes.Unset},
		{"/api/things/1?status=500", "", "POST /api/things/{id}", "/api/things/{id}", 500, codes.Error},
		{"/nowhere?status=503", "", "unmatched", "", 503, codes.Error},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+tt.path, strings.NewReader("{}"))
			req.Header.Set("User-Agent", "tester/1")
			req.Header.Set("X-Forwarded-For", "203.0.113.7, 10.0.0.1")
			if tt.traceparent != "" {
				req.Header.Set("traceparent", tt.traceparent)
			}
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()

			ended := spans.Ended()
			if len(ended) != 2 {
				t.Fatalf("%d spans ended, want the server span and its child", len(ended))
			}
			server := ended[1]
			if server.Name() != tt.name || server.SpanKind() != trace.SpanKindServer {
				t.Errorf("span %q of kind %v, want %q, server", server.Name(), server.SpanKind(), tt.name)
			}
			if ended[0].Parent().SpanID() != server.SpanContext().SpanID() || child.TraceID() != server.SpanContext().TraceID() {
				t.Error("a span started from the request's context is not the server span's child")
			}
			parent := server.Parent()
			if tt.traceparent != "" {
				if parent.TraceID().String() != traceID || parent.SpanID().String() != parentID || !parent.IsRemote() {
					t.Errorf("parent %v, want the caller's span %s/%s", parent, traceID, parentID)
				}
			} else if parent.IsValid() {
				t.Errorf("a request without traceparent has parent %v", parent)
			}
			if server.Status().Code != tt.wantStatus {
				t.Errorf("span status %v, want %v", server.Status(), tt.wantStatus)
			}

			attrs := map[attribute.Key]attribute.Value{}
			for _, kv := range server.Attributes() {
				attrs[kv.Key] = kv.Value
			}
			host, port := splitHostPort(srv.Listener.Addr().String())
			want := map[attribute.Key]any{
				"http.request.method":       "POST",
				"url.scheme":                "http",
				"url.path":                  strings.Split(tt.path, "?")[0],
				"server.address":            host,
				"server.port":               int64(port),
				"network.peer.address":      "127.0.0.1",
				"client.address":            "203.0.113.7",
				"user_agent.original":       "tester/1",
				"network.protocol.version":  "1.1",
				"http.response.status_code": int64(tt.status),
				"http.response.body.size":   int64(4),
			}
			if tt.route != "" {
				want["http.route"] = tt.route
			} else if v, ok := attrs["http.route"]; ok {
				t.Errorf("http.route %q on an unmatched request", v.Emit())
			}
			for k, v := range want {
				if got, ok := attrs[k]; !ok || got.AsInterface() != v {
					t.Errorf("%s = %v, want %v", k, got.AsInterface(), v)
				}
			}
			if _, ok := attrs["network.peer.port"]; !ok {
				t.Error("no network.peer.port")
			}
			spans.Reset()
		})
	}
}

func TestRequestAttributesEdges(t *testing.T) {
	r := httptest.NewRequest("PURGE", "https://[::1]:443/x", nil)
	r.RemoteAddr = "[::1]:5000"
	attrs := map[attribute.Key]string{}
	for _, kv := range requestAttributes(r, "/x") {
		attrs[kv.Key] = kv.Value.Emit()
	}
	for k, v := range map[attribute.Key]string{
		"http.request.method":          "_OTHER",
		"http.request.method_original": "PURGE",
		"url.scheme":                   "https",
		"server.address":               "::1",
		"network.peer.address":         "::1",
		"client.address":               "::1",
		"http.route":                   "/x",
	} {
		if attrs[k] != v {
			t.Errorf("%s = %q, want %q", k, attrs[k], v)
		}
	}
	if _, ok := attrs["server.port"]; ok {
		t.Error("server.port set for the scheme's default port")
	}
	for in, want := range map[string]struct {
		host string
		port int
	}{
		"example.com":      {"example.com", 0},
		"example.com:8080": {"example.com", 8080},
		"[::1]":            {"::1", 0},
		"[::1]:99999":      {"::1", 0},
		"":                 {"", 0},
	} {
		if h, p := splitHostPort(in); h != want.host || p != want.port {
			t.Errorf("splitHostPort(%q) = %q, %d", in, h, p)
		}
	}
}

// TestTracingAndMiddleware runs the two the way server.go stacks them: one
// recorder, the same status in the span, the metrics and the log.
func TestTracingAndMiddleware(t *testing.T) {
	tracing, spans := newRecordedTracing()
	m := newTestMetrics(t)
	var logs strings.Builder
	log, _ := NewLogger(&logs, "json", "debug")
	route := func(*http.Request) (string, string) { return "ops", "GET /readyz" }
	var seen http.ResponseWriter
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = w
		if !trace.SpanContextFromContext(r.Context()).IsValid() {
			t.Error("no span in the handler's context")
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "draining")
	})
	rec := httptest.NewRecorder()
	tracing.Handler(Middleware(inner, m, log, route), route).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))

	if r, ok := seen.(*recorder); !ok || r.ResponseWriter != rec {
		t.Errorf("the handler got %T, want one recorder around the server's writer", seen)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("ops", "GET /readyz", "503")); got != 1 {
		t.Errorf("requests counted %v, want 1", got)
	}
	if ended := spans.Ended(); len(ended) != 1 || ended[0].Status().Code != codes.Error {
		t.Errorf("spans %v", ended)
	}
	line := logs.String()
	for _, want := range []string{`"status":503`, `"bytes":8`, `"trace_id":"` + spans.Ended()[0].SpanContext().TraceID().String() + `"`} {
		if !strings.Contains(line, want) {
			t.Errorf("log %s lacks %s", line, want)
		}
	}
}
