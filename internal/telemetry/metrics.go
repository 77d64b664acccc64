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
	webhookAttempts *prometheus.CounterVec
	webhookSkips    prometheus.Counter
	webhookInFlight prometheus.Gauge
	deletions       prometheus.Counter
	sendStatements  prometheus.Histogram
	lifetimePasses  *prometheus.CounterVec
	dropped         *prometheus.CounterVec
	reads           *prometheus.CounterVec
}

// latencyBuckets suit a service whose sends take a few milliseconds.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// NewMetrics registers the process, Go runtime and database pool collectors
// next to sessionhub's own series. subscriptions and agentFollowers report
// this process's open sessionEvents and agentEvents subscriptions when
// scraped.
func NewMetrics(pool *sql.DB, database string, subscriptions, agentFollowers func() int) *Metrics {
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
	m.sendStatements = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "sessionhub_send_group_size",
		Help:    "Sends carried by one send statement (PostgreSQL group commit; 1 when a send went alone).",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
	})
	m.lifetimePasses = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sessionhub_lifetime_passes_total",
		Help: "Passes of the once-a-second claim of near-expiration and expiry notices, by outcome (ok or error).",
	}, []string{"outcome"})
	m.lifetimePasses.WithLabelValues("ok")
	m.lifetimePasses.WithLabelValues("error")
	m.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sessionhub_subscribers_dropped_total",
		Help: "Subscriptions this replica ended on its own, by reason: slow_consumer (the client did not read its events) or events_lost (missed events could not be read back).",
	}, []string{"reason"})
	m.webhookAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sessionhub_webhook_attempts_total",
		Help: "Webhook delivery attempts by this replica, by outcome: delivered, retry (will be tried again) or failed (given up).",
	}, []string{"outcome"})
	for _, outcome := range []string{"delivered", "retry", "failed"} {
		m.webhookAttempts.WithLabelValues(outcome)
	}
	m.webhookSkips = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sessionhub_webhook_feed_skips_total",
		Help: "Times this replica found a webhook's feed position behind the agent feed's retention horizon and moved it there: the events removed in between are never delivered.",
	})
	m.webhookInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sessionhub_webhook_attempts_in_flight",
		Help: "Webhook delivery attempts this replica is making now (at most 32; at most 8 for one agent).",
	})
	for _, reason := range []string{DropSlowConsumer, DropEventsLost} {
		m.dropped.WithLabelValues(reason) // exported at 0, so rate() works before the first drop
	}
	m.reads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sessionhub_database_reads_total",
		Help: "Reads that a read replica could serve (DATABASE_READ_URLS), by where they were served: standby or primary.",
	}, []string{"target"})
	subs := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sessionhub_active_subscriptions",
		Help: "GraphQL sessionEvents subscriptions open on this replica.",
	}, func() float64 { return float64(subscriptions()) })
	followers := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sessionhub_agent_feed_followers",
		Help: "GraphQL agentEvents subscriptions open on this replica.",
	}, func() float64 { return float64(agentFollowers()) })
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(pool, database),
		m.requests, m.requestDuration, m.operations, m.operationTime,
		m.messages, m.renewals, m.warnings, m.expiries, m.deletions, subs, followers,
		m.sendStatements, m.lifetimePasses, m.dropped, m.reads, m.webhookAttempts, m.webhookSkips, m.webhookInFlight,
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

// DatabaseRead counts a read a replica could serve, by where it was served.
func (m *Metrics) DatabaseRead(target string) { m.reads.WithLabelValues(target).Inc() }

// SendStatement records how many sends one send statement carried.
func (m *Metrics) SendStatement(sends int) { m.sendStatements.Observe(float64(sends)) }

// LifetimePass records one pass of the lifetime claims and whether it failed.
func (m *Metrics) LifetimePass(err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.lifetimePasses.WithLabelValues(outcome).Inc()
}

// Reasons a replica drops a subscriber, as labels of
// sessionhub_subscribers_dropped_total.
const (
	DropSlowConsumer = "slow_consumer"
	DropEventsLost   = "events_lost"
)

// SubscriberDropped counts a subscription the server ended on its own.
func (m *Metrics) SubscriberDropped(reason string) {
	m.dropped.WithLabelValues(reason).Inc()
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

// WebhookAttempt counts a webhook delivery attempt by its outcome.
func (m *Metrics) WebhookAttempt(d *models.Delivery) {
	outcome := "retry"
	switch d.Status {
	case models.DeliveryDelivered:
		outcome = "delivered"
	case models.DeliveryFailed:
		outcome = "failed"
	}
	m.webhookAttempts.WithLabelValues(outcome).Inc()
}

// WebhookAttemptsInFlight moves the gauge of attempts in flight by delta.
func (m *Metrics) WebhookAttemptsInFlight(delta int) { m.webhookInFlight.Add(float64(delta)) }

// WebhookSkipped counts a webhook moved to the agent feed's retention horizon.
func (m *Metrics) WebhookSkipped() { m.webhookSkips.Inc() }
