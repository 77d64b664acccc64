package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"sessionhub/internal/testutil"
)

// scrape reads /metrics and returns each sample's value by its name and
// labels, written as name{label="value",...} with labels sorted.
func scrape(t *testing.T, srv *server) map[string]float64 {
	t.Helper()
	res := srv.do(t, http.MethodGet, "/metrics", "", "")
	if res.Status != http.StatusOK {
		t.Fatalf("/metrics: %d", res.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(res.Body))
	if err != nil {
		t.Fatalf("/metrics is not in the Prometheus text format: %v", err)
	}
	samples := map[string]float64{}
	for name, family := range families {
		for _, m := range family.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch family.GetType() {
			case dto.MetricType_COUNTER:
				samples[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				samples[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				samples[key+"_count"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return samples
}

const sendMutation = `mutation($id: ID!, $content: String!) { sendSessionMessage(sessionId: $id, input: {content: $content}) { id } }`

// TestMetrics drives traffic through both transports and a subscription and
// reads the counts back from /metrics, on both databases.
func TestMetrics(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			srv := startServer(t, testutil.DatabaseURL(t, dialect))
			sessionID := srv.createSession(t, srv.createAgent(t), userID)
			for i := range 3 {
				if res := srv.postJSON(t, "/api/messaging/sessions/"+sessionID+"/messages", map[string]any{"content": fmt.Sprint("rest ", i)}); res.Status != http.StatusCreated {
					t.Fatalf("send: %d %s", res.Status, res.Body)
				}
			}
			var out struct{ Errors []any }
			for i := range 2 {
				srv.graphql(t, sendMutation, map[string]any{"id": sessionID, "content": fmt.Sprint("graphql ", i)}, &out)
			}
			srv.graphql(t, sendMutation, map[string]any{"id": "00000000-0000-0000-0000-000000000000", "content": "to nowhere"}, &out)
			srv.do(t, http.MethodGet, "/api/messaging/sessions/00000000-0000-0000-0000-000000000000", "", "")

			sub, err := dialWS(t, srv, nil)
			if err != nil {
				t.Fatal(err)
			}
			sub.subscribe(t, "1", `subscription($id: ID!) { sessionEvents(sessionId: $id) { __typename } }`, map[string]any{"id": sessionID})
			waitSubscribed(t, sub, srv, sessionID)

			m := scrape(t, srv)
			sendRoute := `route="POST /api/messaging/sessions/{sessionId}/messages"`
			probes := m[`sessionhub_http_requests_total{code="201",`+sendRoute+`,transport="rest"}`] - 3
			for key, want := range map[string]float64{
				`sessionhub_http_requests_total{code="201",` + sendRoute + `,transport="rest"}`:                               3 + probes,
				`sessionhub_http_requests_total{code="404",route="GET /api/messaging/sessions/{sessionId}",transport="rest"}`: 1,
				`sessionhub_graphql_operations_total{operation="mutation sendSessionMessage",outcome="ok"}`:                   2,
				`sessionhub_graphql_operations_total{operation="mutation sendSessionMessage",outcome="SESSION_NOT_FOUND"}`:    1,
				`sessionhub_graphql_operation_duration_seconds{operation="mutation sendSessionMessage"}_count`:                3,
				`sessionhub_messages_sent_total{author="user"}`:                                                               5 + probes,
				`sessionhub_active_subscriptions`:                                1,
				`go_sql_max_open_connections{db_name="` + string(dialect) + `"}`: map[string]float64{"sqlite": 1, "postgres": 16}[string(dialect)],
			} {
				if got := m[key]; got != want {
					t.Errorf("%s = %v, want %v", key, got, want)
				}
			}
			if probes < 1 {
				t.Errorf("the subscription's probe sends were not counted")
			}
			if m[`sessionhub_http_request_duration_seconds{`+sendRoute+`,transport="rest"}_count`] != 3+probes {
				t.Error("REST send latency not observed once per request")
			}
			if m[`sessionhub_session_renewals_total`] < 1 {
				t.Error("no renewal counted")
			}
			if m["process_resident_memory_bytes"] == 0 || m["go_goroutines"] == 0 {
				t.Error("process and runtime collectors missing")
			}

			_ = sub.conn.CloseNow()
			deadline := time.Now().Add(5 * time.Second)
			for scrape(t, srv)[`sessionhub_active_subscriptions`] != 0 {
				if time.Now().After(deadline) {
					t.Fatal("active subscriptions did not fall back to 0 after the client left")
				}
				time.Sleep(20 * time.Millisecond)
			}
			// A WebSocket connection is counted once it ends, without a latency.
			if got := scrape(t, srv)[`sessionhub_http_requests_total{code="101",route="/query",transport="graphql"}`]; got != 1 {
				t.Errorf("WebSocket connections counted %v, want 1", got)
			}
		})
	}
}

// TestRequestIDs: every response carries X-Request-ID (the caller's own if
// sane), and the server's log lines for that request carry it too.
func TestRequestIDs(t *testing.T) {
	srv := startServer(t, testutil.DatabaseURL(t, "sqlite"), "LOG_LEVEL=debug", "LOG_FORMAT=json")
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/messaging/sessions/not-a-session", nil)
	req.Header.Set("X-Request-ID", "trace-me-42")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("X-Request-ID"); got != "trace-me-42" {
		t.Errorf("X-Request-ID %q, want the caller's", got)
	}
	made := srv.do(t, http.MethodGet, "/healthz", "", "").Header.Get("X-Request-ID")
	if len(made) != 36 {
		t.Errorf("X-Request-ID %q, want a generated UUID", made)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, line := range strings.Split(srv.stderr.String(), "\n") {
		var raw map[string]any
		if json.Unmarshal([]byte(line), &raw) != nil {
			continue
		}
		if raw["request_id"] == "trace-me-42" && raw["msg"] == "request" && raw["status"] == float64(404) && raw["route"] == "GET /api/messaging/sessions/{sessionId}" {
			found++
		}
	}
	if found != 1 {
		t.Errorf("%d request log lines carry the caller's id; log:\n%s", found, srv.stderr.String())
	}
}

// otlpCollector is a stand-in OTLP/HTTP trace receiver.
type otlpCollector struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (c *otlpCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			c.spans = append(c.spans, ss.GetSpans()...)
		}
	}
	c.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// trace returns the spans of one trace by name, with their kinds.
func (c *otlpCollector) trace(traceID []byte) map[string]tracepb.Span_SpanKind {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]tracepb.Span_SpanKind{}
	for _, s := range c.spans {
		if bytes.Equal(s.GetTraceId(), traceID) {
			out[s.GetName()] = s.GetKind()
		}
	}
	return out
}

// TestTracing exports spans over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is
// set: a caller's W3C trace continues through the HTTP route, the GraphQL
// operation and the SQL statements of a send, on both databases.
func TestTracing(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			collector := &otlpCollector{}
			otlp := httptest.NewServer(collector)
			defer otlp.Close()
			srv := startServer(t, testutil.DatabaseURL(t, dialect), "OTEL_EXPORTER_OTLP_ENDPOINT="+otlp.URL, "OTEL_BSP_SCHEDULE_DELAY=50")
			sessionID := srv.createSession(t, srv.createAgent(t), userID)

			restTrace := [16]byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
			graphqlTrace := [16]byte{0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c}
			send := func(path, body string, traceID [16]byte) {
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("traceparent", fmt.Sprintf("00-%x-00f067aa0ba902b7-01", traceID))
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode >= 300 || bytes.Contains(b, []byte(`"errors"`)) {
					t.Fatalf("%s: %d %s", path, res.StatusCode, b)
				}
			}
			send("/api/messaging/sessions/"+sessionID+"/messages", `{"content":"traced"}`, restTrace)
			vars, _ := json.Marshal(map[string]any{"query": sendMutation, "variables": map[string]any{"id": sessionID, "content": "traced too"}})
			send("/query", string(vars), graphqlTrace)
			if err := srv.stop(); err != nil { // flushes the exporter
				t.Fatal(err)
			}

			rest := collector.trace(restTrace[:])
			if rest["POST /api/messaging/sessions/{sessionId}/messages"] != tracepb.Span_SPAN_KIND_SERVER {
				t.Errorf("REST send trace has no server span named after its route: %v", rest)
			}
			gql := collector.trace(graphqlTrace[:])
			if _, ok := gql["graphql mutation sendSessionMessage"]; !ok || gql["/query"] != tracepb.Span_SPAN_KIND_SERVER {
				t.Errorf("GraphQL send trace lacks its server or operation span: %v", gql)
			}
			for name, spans := range map[string]map[string]tracepb.Span_SpanKind{"REST": rest, "GraphQL": gql} {
				statements := 0
				for _, kind := range spans {
					if kind == tracepb.Span_SPAN_KIND_CLIENT {
						statements++
					}
				}
				if statements == 0 {
					t.Errorf("%s send trace has no SQL spans: %v", name, spans)
				}
				for span := range spans {
					if strings.Contains(span, "traced") {
						t.Errorf("%s send trace names a span after the message's content: %q", name, span)
					}
				}
				if spans["UPDATE sessions"] != tracepb.Span_SPAN_KIND_CLIENT {
					t.Errorf("%s send trace has no client span for the session's renewal (UPDATE sessions): %v", name, spans)
				}
			}
		})
	}
}
