// Package telemetry is how operators see sessionhub: Prometheus metrics,
// structured logs carrying a request id, and OpenTelemetry traces. The
// transports and the service only report to it; it decides nothing.
package telemetry

import (
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"sessionhub/models"
)

// Metrics holds every series sessionhub exports at /metrics, in its own
// registry (no global state: tests and replicas in one process stay apart).
type Metrics struct {
	registry *prometheus.Registry

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	operations      *prometheus.CounterVec
	operationTime   *prometheus.HistogramVec
	messages        *prometheus.CounterVec
	renewals        prometheus.Counter
	warnings        prometheus.Counter
	expiries        prometheus.Counter
	deletions       prometheus.Counter
}

// latencyBuckets suit a service whose sends take a few milliseconds.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// NewMetrics registers the process, Go runtime and database pool collectors
// next to sessionhub's own series. subscriptions reports this process's live
// GraphQL subscriptions when scraped.
func NewMetrics(pool *sql.DB, database string, subscriptions func() int) *Metrics {
	m := &Metrics{registry: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sessionhub_http_requests_total",
		Help: "HTTP requests by transport (rest, graphql, ops), route pattern and status code.",
	}, []string{"transport", "route", "code"})
	m.requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sessionhub_http_request_duration_seconds",
		Help:    "HTTP request latency by transport and route pattern (WebSocket connections and Server-Sent Events streams excluded).",
		Buckets: latencyBuckets,
	}, []string{"transport", "route"})
	m.operations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sessionhub_graphql_operations_total",
		Help: "GraphQL queries and mutations by operation (type and root fields) and outcome (ok or the first error code).",
	}, []string{"operation", "outcome"})
	m.operationTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sessionhub_graphql_operation_duration_seconds",
		Help:    "GraphQL query and mutation latency by operation, from parsing to the response.",
		Buckets: latencyBuckets,
	}, []string{"operation"})
	m.messages = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sessionhub_messages_sent_total",
		Help: "Messages stored, by author (user or agent). Idempotent replays are not counted.",
	}, []string{"author"})
	m.renewals = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sessionhub_session_renewals_total",
		Help: "Times a session's expiry moved forward: by a message, a heartbeat or an explicit renewal.",
	})
	m.warnings = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sessionhub_session_near_expiration_total",
		Help: "Sessions announced as near expiration by this replica (each crossing is announced by one replica).",
	})
	m.expiries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sessionhub_sessions_expired_total",
		Help: "Sessions announced as expired by this replica (each expiry is announced by one replica).",
	})
	m.deletions = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sessionhub_sessions_deleted_total",
		Help: "Sessions deleted by a client.",
	})
	subs := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sessionhub_active_subscriptions",
		Help: "GraphQL sessionEvents subscriptions open on this replica.",
	}, func() float64 { return float64(subscriptions()) })
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(pool, database),
		m.requests, m.requestDuration, m.operations, m.operationTime,
		m.messages, m.renewals, m.warnings, m.expiries, m.deletions, subs,
	)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Observe counts a committed change; it is the service's chat.Observer.
func (m *Metrics) Observe(e models.Event) {
	switch e.Kind {
	case models.EventMessageAdded:
		author := "user"
		if e.Message != nil && e.Message.IsAgent {
			author = "agent"
		}
		m.messages.WithLabelValues(author).Inc()
	case models.EventRenewed:
		if e.Status != nil && e.Status.WasRenewed {
			m.renewals.Inc()
		}
	case models.EventNearExpiration:
		m.warnings.Inc()
	case models.EventExpired:
		m.expiries.Inc()
	case models.EventDeleted:
		m.deletions.Inc()
	}
}

func (m *Metrics) observeRequest(transport, route string, code int, elapsed time.Duration, upgraded bool) {
	m.requests.WithLabelValues(transport, route, strconv.Itoa(code)).Inc()
	if !upgraded {
		m.requestDuration.WithLabelValues(transport, route).Observe(elapsed.Seconds())
	}
}

func (m *Metrics) observeOperation(operation, outcome string, elapsed time.Duration) {
	m.operations.WithLabelValues(operation, outcome).Inc()
	m.operationTime.WithLabelValues(operation).Observe(elapsed.Seconds())
}
