package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// collector answers each POST with the next of its answers (the last one
// repeated) and keeps what it was sent, decoded with the collector's own
// message type.
type collector struct {
	answers []func(http.ResponseWriter)

	mu       sync.Mutex
	requests []*http.Request
	received []*coltracepb.ExportTraceServiceRequest
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	n := len(c.requests)
	c.requests = append(c.requests, r)
	c.received = append(c.received, &req)
	c.mu.Unlock()
	c.answers[min(n, len(c.answers)-1)](w)
}

// sent is what the collector received so far.
func (c *collector) sent() ([]*http.Request, []*coltracepb.ExportTraceServiceRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests, c.received
}

func answer(status int, header ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(status)
	}
}

func testResourceSpans(names ...string) []*tracepb.ResourceSpans {
	var out []*tracepb.ResourceSpans
	for _, name := range names {
		out = append(out, &tracepb.ResourceSpans{
			Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{
				Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: name}},
			}}},
			ScopeSpans: []*tracepb.ScopeSpans{{
				Scope: &commonpb.InstrumentationScope{Name: "test"},
				Spans: []*tracepb.Span{{
					TraceId: bytes.Repeat([]byte{1}, 16), SpanId: bytes.Repeat([]byte{2}, 8),
					Name: name + " span", Kind: tracepb.Span_SPAN_KIND_SERVER,
				}},
			}},
		})
	}
	return out
}

// recordSleeps makes the client's waits instant and lists them.
func recordSleeps(c *otlpHTTPClient) *[]time.Duration {
	var slept []time.Duration
	c.sleep = func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d)
		return ctx.Err()
	}
	return &slept
}

func TestOTLPClientSendsExportRequest(t *testing.T) {
	col := &collector{answers: []func(http.ResponseWriter){answer(http.StatusOK)}}
	srv := httptest.NewServer(col)
	defer srv.Close()
	opts, err := ExporterOptionsFromEnv(env{"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20s3cret, x-tenant = blue"}.get)
	if err != nil {
		t.Fatal(err)
	}
	client := newOTLPHTTPClient(srv.URL+"/v1/traces", opts)

	sent := testResourceSpans("one", "two")
	if err := client.UploadTraces(context.Background(), sent); err != nil {
		t.Fatal(err)
	}
	requests, received := col.sent()
	if len(received) != 1 {
		t.Fatalf("%d requests, want 1", len(received))
	}
	if got := received[0]; !proto.Equal(got, &coltracepb.ExportTraceServiceRequest{ResourceSpans: sent}) {
		t.Errorf("collector decoded %v, want the two resource spans sent", got)
	}
	r := requests[0]
	for k, want := range map[string]string{
		"Content-Type":  "application/x-protobuf",
		"Authorization": "Bearer s3cret",
		"X-Tenant":      "blue",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		t.Errorf("%s %s, want POST /v1/traces", r.Method, r.URL.Path)
	}
}

func TestOTLPClientGzip(t *testing.T) {
	col := &collector{answers: []func(http.ResponseWriter){answer(http.StatusOK)}}
	srv := httptest.NewServer(col)
	defer srv.Close()
	opts, err := ExporterOptionsFromEnv(env{"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip"}.get)
	if err != nil {
		t.Fatal(err)
	}
	sent := testResourceSpans("zipped")
	if err := newOTLPHTTPClient(srv.URL, opts).UploadTraces(context.Background(), sent); err != nil {
		t.Fatal(err)
	}
	requests, received := col.sent()
	if len(received) != 1 || requests[0].Header.Get("Content-Encoding") != "gzip" ||
		!proto.Equal(received[0], &coltracepb.ExportTraceServiceRequest{ResourceSpans: sent}) {
		t.Errorf("collector got %d requests, %v", len(received), received)
	}
}

func TestOTLPClientRetriesAsTold(t *testing.T) {
	col := &collector{answers: []func(http.ResponseWriter){
		answer(http.StatusServiceUnavailable, "Retry-After", "3"),
		answer(http.StatusTooManyRequests), // no Retry-After: the client's own backoff
		answer(http.StatusOK),
	}}
	srv := httptest.NewServer(col)
	defer srv.Close()
	opts, _ := ExporterOptionsFromEnv(func(string) string { return "" })
	client := newOTLPHTTPClient(srv.URL, opts)
	slept := recordSleeps(client)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sent := testResourceSpans("again")
	if err := client.UploadTraces(ctx, sent); err != nil {
		t.Fatal(err)
	}
	_, received := col.sent()
	if len(received) != 3 || !proto.Equal(received[2], &coltracepb.ExportTraceServiceRequest{ResourceSpans: sent}) {
		t.Fatalf("collector got %d requests, want 3, the last one whole", len(received))
	}
	if len(*slept) != 2 || (*slept)[0] != 3*time.Second || (*slept)[1] < retryFirst/2 || (*slept)[1] > retryFirst {
		t.Errorf("waits %v, want 3s (Retry-After) then the first backoff (%s at most)", *slept, retryFirst)
	}
}

func TestOTLPClientGivesUpAtDeadline(t *testing.T) {
	col := &collector{answers: []func(http.ResponseWriter){answer(http.StatusServiceUnavailable, "Retry-After", "120")}}
	srv := httptest.NewServer(col)
	defer srv.Close()
	opts, _ := ExporterOptionsFromEnv(func(string) string { return "" })
	client := newOTLPHTTPClient(srv.URL, opts)
	slept := recordSleeps(client)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := client.UploadTraces(ctx, testResourceSpans("late"))
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "deadline") {
		t.Errorf("error %v, want the 503 and that the next try is past the deadline", err)
	}
	_, received := col.sent()
	if len(received) != 1 || len(*slept) != 0 {
		t.Errorf("%d requests, %d waits; want 1 and none", len(received), len(*slept))
	}
}

func TestOTLPClientPermanentError(t *testing.T) {
	long := "invalid request: " + strings.Repeat("x", 10000) + "\x00\x01binary"
	col := &collector{answers: []func(http.ResponseWriter){func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, long)
	}}}
	srv := httptest.NewServer(col)
	defer srv.Close()
	opts, _ := ExporterOptionsFromEnv(func(string) string { return "" })
	client := newOTLPHTTPClient(srv.URL+"/v1/traces", opts)
	slept := recordSleeps(client)

	err := client.UploadTraces(context.Background(), testResourceSpans("bad"))
	if err == nil {
		t.Fatal("no error for a 400")
	}
	msg := err.Error()
	if !strings.Contains(msg, "400 Bad Request") || !strings.Contains(msg, srv.URL+"/v1/traces") ||
		!strings.Contains(msg, "invalid request: xxx") || len(msg) > 300 || strings.ContainsAny(msg, "\x00\x01") {
		t.Errorf("error %q (%d bytes): want the status, the URL and a short printable prefix of the body", msg, len(msg))
	}
	_, received := col.sent()
	if len(received) != 1 || len(*slept) != 0 {
		t.Errorf("%d requests, %d waits; a 400 is not retried", len(received), len(*slept))
	}
}

// TestOTLPClientUnderSDK runs the client the way NewTracing does: spans go
// through the SDK's batcher and otlptrace's conversion.
func TestOTLPClientUnderSDK(t *testing.T) {
	col := &collector{answers: []func(http.ResponseWriter){answer(http.StatusOK)}}
	srv := httptest.NewServer(col)
	defer srv.Close()
	opts, _ := ExporterOptionsFromEnv(func(string) string { return "" })
	exporter, err := otlptrace.New(context.Background(), newOTLPHTTPClient(srv.URL, opts))
	if err != nil {
		t.Fatal(err)
	}
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "sdk-test"))),
	)
	_, span := provider.Tracer("test").Start(context.Background(), "work")
	span.End()
	if err := provider.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, received := col.sent()
	if len(received) != 1 {
		t.Fatalf("%d requests, want 1", len(received))
	}
	rs := received[0].ResourceSpans
	if len(rs) != 1 || len(rs[0].ScopeSpans) != 1 || len(rs[0].ScopeSpans[0].Spans) != 1 ||
		rs[0].ScopeSpans[0].Spans[0].Name != "work" || rs[0].Resource.Attributes[0].GetValue().GetStringValue() != "sdk-test" {
		t.Errorf("collector got %v", rs)
	}
}

type env map[string]string

func (e env) get(k string) string { return e[k] }

func TestOTLPOptionsFromEnv(t *testing.T) {
	opts, err := ExporterOptionsFromEnv(env{
		"OTEL_EXPORTER_OTLP_TIMEOUT":        "2500",
		"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "4000",
		"OTEL_EXPORTER_OTLP_HEADERS":        "a=1",
	}.get)
	if err != nil || opts.timeout != 4*time.Second || opts.header.Get("A") != "1" || opts.gzip || opts.tls != nil {
		t.Errorf("options %+v, %v", opts, err)
	}
	for _, bad := range []env{
		{"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"},
		{"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"},
		{"OTEL_EXPORTER_OTLP_HEADERS": "novalue"},
		{"OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent.pem"},
	} {
		if _, err := ExporterOptionsFromEnv(bad.get); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
