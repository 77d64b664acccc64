package telemetry

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"sessionhub/models"
)

// noDatabase is a connector for a pool that is never used: the pool
// collector only reads its statistics.
type noDatabase struct{}

func (noDatabase) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("no database in this test")
}
func (noDatabase) Driver() driver.Driver { return nil }

func newTestMetrics(t *testing.T) *Metrics {
	t.Helper()
	pool := sql.OpenDB(noDatabase{})
	t.Cleanup(func() { pool.Close() })
	return NewMetrics(pool, "test", func() int { return 3 }, func() int { return 2 })
}

func TestValidRequestID(t *testing.T) {
	for id, want := range map[string]bool{
		"abc-123":                              true,
		"01a21144-e59a-729d-b15c-ca0b57edf3d2": true,
		"req_1.2":                              true,
		"":                                     false,
		"two words":                            false,
		"line\nbreak":                          false,
		strings.Repeat("a", 128):               true,
		strings.Repeat("a", 129):               false,
		"ünïcode":                              false,
	} {
		if got := validRequestID(id); got != want {
			t.Errorf("validRequestID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestMiddleware(t *testing.T) {
	route := func(r *http.Request) (string, string) { return "rest", "GET /things/{id}" }
	handler := func(status int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			slog.New(contextHandler{slog.NewTextHandler(&bytes.Buffer{}, nil)}).InfoContext(r.Context(), "inner")
			if RequestID(r.Context()) == "" {
				t.Error("the handler's context carries no request id")
			}
			w.WriteHeader(status)
		})
	}
	tests := []struct {
		name      string
		incoming  string
		status    int
		level     string
		keepsID   bool
		wantLevel string // "" means nothing logged
	}{
		{"a caller's sane id is kept", "abc-123", 200, "info", true, ""},
		{"an unsafe id is replaced", "evil\r\nSet-Cookie: x", 200, "info", false, ""},
		{"a missing id is made", "", 201, "info", false, ""},
		{"every request is logged at debug", "abc-123", 404, "debug", true, "DEBUG"},
		{"a server failure is logged at error", "abc-123", 503, "info", true, "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMetrics(t)
			var logs bytes.Buffer
			log, err := NewLogger(&logs, "json", tt.level)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodGet, "/things/1", nil)
			if tt.incoming != "" {
				req.Header.Set(RequestIDHeader, tt.incoming)
			}
			rec := httptest.NewRecorder()
			Middleware(handler(tt.status), m, log, route).ServeHTTP(rec, req)

			id := rec.Header().Get(RequestIDHeader)
			if tt.keepsID && id != tt.incoming {
				t.Errorf("X-Request-ID %q, want the caller's %q", id, tt.incoming)
			}
			if !tt.keepsID && (id == tt.incoming || !validRequestID(id) || len(id) != 36) {
				t.Errorf("X-Request-ID %q, want a fresh UUID", id)
			}
			if got := testutil.ToFloat64(m.requests.WithLabelValues("rest", "GET /things/{id}", strconv.Itoa(tt.status))); got != 1 {
				t.Errorf("requests counted %v, want 1", got)
			}
			switch {
			case tt.wantLevel == "" && logs.Len() > 0:
				t.Errorf("logged %s", logs.String())
			case tt.wantLevel != "":
				line := logs.String()
				for _, want := range []string{`"level":"` + tt.wantLevel + `"`, `"request_id":"` + id + `"`, `"route":"GET /things/{id}"`, `"status":` + strconv.Itoa(tt.status)} {
					if !strings.Contains(line, want) {
						t.Errorf("log line %s lacks %s", line, want)
					}
				}
			}
		})
	}
}

func TestOperationLabel(t *testing.T) {
	tests := []struct{ query, want string }{
		{`mutation Mine { sendSessionMessage(sessionId: "x", input: {content: "hi"}) { id } }`, "mutation sendSessionMessage"},
		{`query { b: session(id: "1") { id } a: session(id: "2") { id } agent(id: "3") { id } }`, "query agent,session"},
		{`{ a b c d e }`, "query a,b,c,…"},
		{`subscription S { sessionEvents(sessionId: "x") { __typename } }`, "subscription sessionEvents"},
	}
	for _, tt := range tests {
		doc, err := parser.ParseQuery(&ast.Source{Input: tt.query})
		if err != nil {
			t.Fatal(err)
		}
		if got := OperationLabel(doc.Operations[0]); got != tt.want {
			t.Errorf("OperationLabel(%s) = %q, want %q", tt.query, got, tt.want)
		}
	}
	if got := OperationLabel(nil); got != "invalid" {
		t.Errorf("OperationLabel(nil) = %q", got)
	}
}

func TestOutcome(t *testing.T) {
	coded := &gqlerror.Error{Message: "gone", Extensions: map[string]any{"code": "SESSION_EXPIRED"}}
	for _, tt := range []struct {
		resp *graphql.Response
		want string
	}{
		{nil, "ok"},
		{&graphql.Response{}, "ok"},
		{&graphql.Response{Errors: gqlerror.List{coded, {Message: "other"}}}, "SESSION_EXPIRED"},
		{&graphql.Response{Errors: gqlerror.List{{Message: "uncoded"}}}, "error"},
	} {
		if got := Outcome(tt.resp); got != tt.want {
			t.Errorf("Outcome = %q, want %q", got, tt.want)
		}
	}
}

func TestObserveCountsDomainEvents(t *testing.T) {
	m := newTestMetrics(t)
	renewed := &models.SessionStatus{WasRenewed: true}
	for _, e := range []models.Event{
		{Kind: models.EventMessageAdded, Message: &models.Message{}},
		{Kind: models.EventMessageAdded, Message: &models.Message{IsAgent: true}},
		{Kind: models.EventMessageAdded, Message: &models.Message{}},
		{Kind: models.EventRenewed, Status: renewed},
		{Kind: models.EventRenewed, Status: &models.SessionStatus{}}, // a timeout change moves nothing forward
		{Kind: models.EventNearExpiration},
		{Kind: models.EventExpired},
		{Kind: models.EventExpired},
		{Kind: models.EventDeleted},
	} {
		m.Observe(e)
	}
	for name, got := range map[string]float64{
		"user messages":  testutil.ToFloat64(m.messages.WithLabelValues("user")) - 2,
		"agent messages": testutil.ToFloat64(m.messages.WithLabelValues("agent")) - 1,
		"renewals":       testutil.ToFloat64(m.renewals) - 1,
		"warnings":       testutil.ToFloat64(m.warnings) - 1,
		"expiries":       testutil.ToFloat64(m.expiries) - 2,
		"deletions":      testutil.ToFloat64(m.deletions) - 1,
	} {
		if got != 0 {
			t.Errorf("%s off by %v", name, got)
		}
	}
}

func TestLoggerAddsRequestID(t *testing.T) {
	var out bytes.Buffer
	log, err := NewLogger(&out, "text", "info")
	if err != nil {
		t.Fatal(err)
	}
	log.InfoContext(WithRequestID(context.Background(), "req-7"), "hello")
	log.Info("no request")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "request_id=req-7") || strings.Contains(lines[1], "request_id") {
		t.Errorf("logged %q", lines)
	}
	if _, err := NewLogger(&out, "xml", "info"); err == nil {
		t.Error("format xml accepted")
	}
}

// The series alert rules watch exist from the start (at zero), so an alert
// on them can tell "nothing happened" from "not exported".
func TestOperationsSeriesExistAtZero(t *testing.T) {
	m := newTestMetrics(t)
	for name, want := range map[string]int{
		"sessionhub_lifetime_passes_total":      2, // ok and error
		"sessionhub_subscribers_dropped_total":  2, // slow_consumer and events_lost
		"sessionhub_send_group_size":            1,
		"sessionhub_webhook_feed_skips_total":   1,
		"sessionhub_webhook_attempts_in_flight": 1,
	} {
		if n, err := testutil.GatherAndCount(m.registry, name); err != nil || n != want {
			t.Errorf("%s: %d series (%v), want %d", name, n, err, want)
		}
	}
	for name, want := range map[string]float64{"sessionhub_active_subscriptions": 3, "sessionhub_agent_feed_followers": 2} {
		families, err := m.registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := -1.0
		for _, f := range families {
			if f.GetName() == name {
				got = f.GetMetric()[0].GetGauge().GetValue()
			}
		}
		if got != want {
			t.Errorf("%s = %v, want %v (what the process reports when scraped)", name, got, want)
		}
	}
	m.LifetimePass(nil)
	m.LifetimePass(errors.New("database down"))
	m.LifetimePass(nil)
	m.SendStatement(1)
	m.SendStatement(17)
	m.SubscriberDropped("slow_consumer")
	m.WebhookSkipped()
	m.WebhookAttemptsInFlight(1)
	m.WebhookAttemptsInFlight(1)
	m.WebhookAttemptsInFlight(-1)
	if got := testutil.ToFloat64(m.lifetimePasses.WithLabelValues("ok")); got != 2 {
		t.Errorf("ok passes = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.lifetimePasses.WithLabelValues("error")); got != 1 {
		t.Errorf("failed passes = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.dropped.WithLabelValues("slow_consumer")); got != 1 {
		t.Errorf("dropped = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.webhookSkips); got != 1 {
		t.Errorf("webhook skips = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.webhookInFlight); got != 1 {
		t.Errorf("webhook attempts in flight = %v, want 1", got)
	}
	if n := testutil.CollectAndCount(m.sendStatements); n != 1 {
		t.Errorf("send statement histogram has %d series, want 1", n)
	}
}
