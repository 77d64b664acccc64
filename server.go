// Command sessionhub serves conversation sessions between users and AI
// agents over GraphQL (/query) and the elizaOS-compatible REST shim
// (/api/messaging/sessions).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"sessionhub/graph"
	"sessionhub/internal/auth"
	"sessionhub/internal/chat"
	"sessionhub/internal/gctune"
	"sessionhub/internal/playground"
	"sessionhub/internal/pubsub"
	"sessionhub/internal/rest"
	"sessionhub/internal/store"
	"sessionhub/internal/telemetry"
	"sessionhub/internal/webhook"
	"sessionhub/models"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tuneGC(ctx, os.Getenv)
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sessionhub:", err)
		os.Exit(1)
	}
}

// tuneGC trades memory for CPU unless GOGC or GOMEMLIMIT say otherwise. A
// send allocates little that outlives it, and with Go's default (GOGC=100)
// collecting it cost a tenth of the server's CPU under load; up to 400 the
// heap may grow larger between collections, but never more than a fixed
// headroom above the live heap (gctune), so what subscriptions keep alive is
// not multiplied; the soft limit keeps the whole bounded.
func tuneGC(ctx context.Context, getenv func(string) string) {
	if getenv("GOGC") == "" {
		go gctune.Tune(ctx, gctune.Default, time.Second)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(192 << 20)
	}
}

// run starts the server and blocks until ctx is cancelled, then drains and
// returns. It prints "sessionhub listening on http://<addr>" to stdout once
// the listener is open, on all interfaces (PORT=0 picks a free port).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(args, getenv, stdout)
	if errors.Is(err, errHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log, err := telemetry.NewLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	for _, clamped := range cfg.Clamped {
		log.Warn("setting out of bounds", "detail", clamped)
	}
	tracing, err := telemetry.NewTracing(ctx, cfg.Tracing)
	if err != nil {
		return err
	}
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tracing.Shutdown(flushCtx); err != nil {
			log.Warn("flushing traces failed", "err", err)
		}
	}()
	storeOptions := []store.Option{store.WithReadReplicas(cfg.ReadReplicas)}
	if tracing.Enabled() {
		storeOptions = append(storeOptions, store.WithTracing(tracing.Provider()))
	}

	db, err := store.Open(ctx, cfg.DatabaseURL, log, storeOptions...)
	if err != nil {
		return err
	}
	defer db.Close()
	if len(cfg.ReadReplicas.URLs) > 0 && db.Dialect() != store.Postgres {
		log.Warn("DATABASE_READ_URLS is ignored: read replicas need PostgreSQL")
	}

	authenticator, err := auth.New(cfg.Auth)
	if err != nil {
		return err
	}
	bus, err := newBus(ctx, cfg, db, log)
	if err != nil {
		return err
	}
	defer bus.Close()
	metrics := telemetry.NewMetrics(db.Pool(), string(db.Dialect()), bus.Subscribers, bus.AgentFollowers)
	db.ObserveSendStatements(metrics.SendStatement)
	db.ObserveReads(metrics.DatabaseRead)
	allowPrivate := cfg.WebhookAllowPrivate
	svc := chat.New(db, models.SystemClock{}, cfg.Policy, chat.WithBus(bus), chat.WithLogger(log), chat.WithObserver(metrics),
		chat.WithWebhooks(chat.WebhookOptions{Sender: webhook.NewClient(allowPrivate),
			CheckURL: func(u string) error { return webhook.CheckURL(u, allowPrivate) }}),
		chat.WithWebhookObserver(metrics.WebhookAttempt), chat.WithWebhookSkipObserver(metrics.WebhookSkipped),
		chat.WithWebhookInFlightObserver(metrics.WebhookAttemptsInFlight))
	var draining atomic.Bool
	shutdown := make(chan struct{})
	handler := newHandler(cfg, deps{svc: svc, auth: authenticator, log: log, metrics: metrics, tracing: tracing}, &draining, shutdown)

	ln, err := net.Listen("tcp", ":"+cfg.Port)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	if addr := cfg.PprofAddr; addr != "" {
		// Profiling on its own listener (e.g. 127.0.0.1:6060), never on the public port.
		go func() { log.Warn("pprof listener stopped", "err", http.ListenAndServe(addr, pprofMux())) }()
	}
	// Background work stops, and is waited for, before the database closes.
	backgroundCtx, stopBackground := context.WithCancel(context.Background())
	var background sync.WaitGroup
	defer func() {
		stopBackground()
		background.Wait()
	}()
	background.Go(func() { sweepExpired(backgroundCtx, svc, cfg, log) })
	background.Go(func() { announceLifetimes(backgroundCtx, svc, metrics, log) })
	background.Go(func() { svc.RunWebhooks(backgroundCtx, cfg.WebhookInterval) })
	log.Info("sessionhub started", "addr", ln.Addr().String(), "database", string(db.Dialect()))
	fmt.Fprintf(stdout, "sessionhub listening on http://127.0.0.1:%d\n", ln.Addr().(*net.TCPAddr).Port)

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	// Readiness fails first so load balancers stop sending, then in-flight
	// requests finish within the shutdown timeout.
	draining.Store(true)
	close(shutdown) // WebSocket connections are hijacked: Shutdown does not wait for or close them
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// sweepExpired runs the retention purges (expired sessions when
// SESSION_RETENTION_HOURS is set; the agent feed and finished webhook
// deliveries by AGENT_FEED_RETENTION_HOURS) and forgets old idempotency
// keys every cleanup interval until ctx ends.
func sweepExpired(ctx context.Context, svc *chat.Service, cfg config, log *slog.Logger) {
	ticker := time.NewTicker(cfg.CleanupInterval)
	defer ticker.Stop()
	for {
		removed, err := svc.Sweep(ctx, cfg.Retention)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("retention sweep failed", "err", err, "removed", removed)
		case removed > 0:
			log.Info("retention sweep removed expired sessions", "removed", removed)
		}
		removed, err = svc.SweepAgentFeed(ctx, cfg.FeedRetention)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("agent feed retention sweep failed", "err", err, "removed", removed)
		case removed > 0:
			log.Info("agent feed retention sweep removed events", "removed", removed)
		}
		removed, err = svc.SweepDeliveries(ctx, cfg.FeedRetention)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("webhook delivery retention sweep failed", "err", err, "removed", removed)
		case removed > 0:
			log.Info("webhook delivery retention sweep removed finished deliveries", "removed", removed)
		}
		if _, err := svc.ForgetIdempotencyKeys(ctx); err != nil && ctx.Err() == nil {
			log.Warn("forgetting old idempotency keys failed", "err", err)
		}
		if _, err := svc.ForgetPersistedQueries(ctx); err != nil && ctx.Err() == nil {
			log.Warn("forgetting old persisted queries failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// newBus picks how session events travel: over NATS when NATS_URL is set,
// else LISTEN/NOTIFY between replicas on PostgreSQL, in process on SQLite.
func newBus(ctx context.Context, cfg config, db *store.Store, log *slog.Logger) (pubsub.Bus, error) {
	if cfg.NATS.URL != "" {
		log.Info("session events travel over NATS", "subjects", cfg.NATS.SubjectPrefix+".*")
		return pubsub.NewNATS(ctx, cfg.NATS, db.FindMessage, chat.Backfill(db), log)
	}
	if db.Dialect() != store.Postgres {
		return pubsub.NewLocal(chat.Backfill(db)), nil
	}
	return pubsub.NewPostgres(ctx, cfg.DatabaseURL, db.FindMessage, chat.Backfill(db), log)
}

// announceLifetimes publishes near-expiration and expiry events every second.
func announceLifetimes(ctx context.Context, svc *chat.Service, metrics *telemetry.Metrics, log *slog.Logger) {
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		_, err := svc.AnnounceLifetimes(ctx)
		if ctx.Err() != nil {
			return
		}
		metrics.LifetimePass(err)
		if err != nil {
			log.Warn("announcing session lifetimes failed", "err", err)
		}
	}
}

// deps are what the HTTP handler serves from.
type deps struct {
	svc     *chat.Service
	auth    *auth.Authenticator
	log     *slog.Logger
	metrics *telemetry.Metrics
	tracing *telemetry.Tracing
}

// newHandler routes every endpoint and wraps them all in request ids,
// logging, metrics and (when configured) tracing.
func newHandler(cfg config, d deps, draining *atomic.Bool, shutdown <-chan struct{}) http.Handler {
	svc, authenticator, log := d.svc, d.auth, d.log
	limiter := auth.NewRateLimiter(cfg.RateLimit)
	gate := &auth.Gate{Auth: authenticator, Limiter: limiter, Now: time.Now}
	mux := http.NewServeMux()
	gql := graph.NewHandler(svc, graph.Options{
		Introspection:  cfg.Introspection,
		Logger:         log,
		Auth:           authenticator,
		OriginPatterns: cfg.AllowedOrigins,
		MaxBodyBytes:   rest.MaxBodyBytes,
		Shutdown:       shutdown,
		Extensions:     []graphql.HandlerExtension{telemetry.GraphQL{Metrics: d.metrics, Tracer: d.tracing.Tracer()}},

		SubscriptionsPerConnection: cfg.SubscriptionsPerConnection,
		SubscriptionsPerCaller:     cfg.SubscriptionsPerCaller,
		RateLimiter:                limiter,
		SubscriberDropped:          d.metrics.SubscriberDropped,
		KeepAlive:                  cfg.KeepAlive,
		PersistedQueries:           svc,
		TrustedDocuments:           cfg.TrustedDocuments,
	})
	cors := newCORS(cfg.CORSOrigins) // outside the gate: preflights carry no credentials
	mux.Handle("/query", cors(withTimeout(cfg.RequestTimeout, gate.Wrap(gql, graph.WriteHTTPError))))
	if cfg.Playground {
		pg := playground.New("sessionhub", "/query")
		mux.Handle("GET /{$}", pg)
		mux.Handle("GET "+playground.AssetPrefix, pg)
	}
	shim := rest.New(svc, log, rest.WithCompat(cfg.RESTCompat))
	api := http.NewServeMux()
	shim.Register(api)
	mux.Handle("/api/", cors(withTimeout(cfg.RequestTimeout, gate.Wrap(api, shim.Reject))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			writeStatus(w, http.StatusServiceUnavailable, "draining")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		// The database must answer and take a write (not full, not read-only).
		if err := svc.Ready(ctx); err != nil {
			log.Warn("readiness check failed", "err", err) // says full, read-only or down
			writeStatus(w, http.StatusServiceUnavailable, "database unavailable")
			return
		}
		writeStatus(w, http.StatusOK, "ready")
	})
	mux.Handle("GET /metrics", d.metrics.Handler())
	mux.Handle("GET /openapi.json", cors(http.HandlerFunc(rest.ServeOpenAPI)))
	if len(cfg.CORSOrigins) > 0 {
		mux.Handle("OPTIONS /openapi.json", cors(http.NotFoundHandler())) // preflights
	}

	route := func(r *http.Request) (transport, pattern string) {
		_, pattern = mux.Handler(r)
		switch {
		case pattern == "/query":
			return "graphql", pattern
		case pattern == "/api/":
			if _, pattern = api.Handler(r); pattern == "" {
				pattern = "unmatched"
			}
			return "rest", pattern
		case pattern == "":
			return "ops", "unmatched"
		}
		return "ops", pattern
	}
	return withBodyDeadline(cfg.BodyReadTimeout, d.tracing.Handler(telemetry.Middleware(mux, d.metrics, log, route), route))
}

// withTimeout bounds a request's work; with the database's own statement
// timeout it makes a stalled database fail requests (503) instead of piling
// them up.
func withTimeout(requestTimeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || graph.IsEventStream(r) {
			next.ServeHTTP(w, r) // subscriptions live as long as the client wants
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/heap", pprof.Index)
	return mux
}

func writeStatus(w http.ResponseWriter, code int, status string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	fmt.Fprintf(w, "{\"status\":%q}\n", status)
}
