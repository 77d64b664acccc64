package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"sessionhub/graph"
	"sessionhub/internal/auth"
	"sessionhub/internal/pubsub"
	"sessionhub/internal/rest"
	"sessionhub/internal/store"
	"sessionhub/internal/telemetry"
	"sessionhub/models"
)

// config is everything the server reads from its environment.
type config struct {
	Port            string
	DatabaseURL     string
	ReadReplicas    store.ReadReplicas // DATABASE_READ_URLS; PostgreSQL only
	AppEnv          string
	Introspection   bool
	Playground      bool
	Policy          models.SessionPolicy
	CleanupInterval time.Duration
	Retention       time.Duration // 0 keeps expired sessions forever
	FeedRetention   time.Duration // agent feed rows and finished webhook deliveries; 0 keeps them
	ShutdownTimeout time.Duration
	RequestTimeout  time.Duration
	BodyReadTimeout time.Duration // a request body must arrive within it (408)
	Auth            auth.Config
	RateLimit       int // requests per minute per caller; 0 turns limiting off
	// Subscription caps on this replica.
	SubscriptionsPerConnection, SubscriptionsPerCaller int
	AllowedOrigins                                     []string // WS_ALLOWED_ORIGINS and CORS_ALLOWED_ORIGINS: may open WebSockets
	LogLevel                                           string
	LogFormat                                          string
	Tracing                                            telemetry.TracingConfig
	PprofAddr                                          string
	RESTCompat                                         rest.Compat
	NATS                                               pubsub.NATSConfig       // URL empty: LISTEN/NOTIFY (or in process on SQLite)
	TrustedDocuments                                   *graph.TrustedDocuments // nil: none
	// Clamped lists settings that were out of bounds and were clamped into
	// them (as the reference does), for a warning at start-up.
	Clamped []string

	// CORSOrigins may call the API from a browser (CORS_ALLOWED_ORIGINS).
	CORSOrigins []string
	// KeepAlive is the ping interval of open subscriptions.
	KeepAlive time.Duration
	// WebhookAllowPrivate lets webhooks target loopback and private
	// networks (WEBHOOK_ALLOW_PRIVATE; development and tests only).
	WebhookAllowPrivate bool
	// WebhookInterval is how often this replica draws webhook deliveries
	// and idle workers look for due retries (WEBHOOK_DISPATCH_INTERVAL_MS,
	// default 250).
	WebhookInterval time.Duration
}

// loadConfig reads the settings from flags and the environment (see
// settings.go) and validates them. Session settings follow the reference:
// unset or empty means the default, a number out of bounds is clamped into
// them (and reported in Clamped). A value that is not a number at all is
// refused with a clear error (the reference silently used the default; a
// typo should not go unnoticed).
func loadConfig(args []string, env func(string) string, out io.Writer) (config, error) {
	getenv, err := resolveSettings(args, env, out)
	if err != nil {
		return config{}, err
	}
	cfg := config{
		Port:            getenv("PORT"),
		DatabaseURL:     getenv("DATABASE_URL"),
		AppEnv:          getenv("APP_ENV"),
		ShutdownTimeout: 20 * time.Second,
		RequestTimeout:  10 * time.Second,
		PprofAddr:       getenv("PPROF_ADDR"),
		Tracing: telemetry.TracingConfig{
			Endpoint:    getenv("OTEL_EXPORTER_OTLP_ENDPOINT"),
			ServiceName: getenv("OTEL_SERVICE_NAME"),
		},
	}
	if cfg.Tracing.Endpoint != "" {
		// The SDK's own variables, read from the environment as it would.
		if cfg.Tracing.Exporter, err = telemetry.ExporterOptionsFromEnv(env); err != nil {
			return config{}, err
		}
	}
	if cfg.ReadReplicas, err = parseReadReplicas(getenv); err != nil {
		return config{}, err
	}
	switch cfg.AppEnv {
	case "", "production", "staging", "development", "test":
	default: // a typo of "production" must not leave the playground open
		return config{}, fmt.Errorf("APP_ENV=%q: must be production, staging, development, test or empty", cfg.AppEnv)
	}
	if u := cfg.Tracing.Endpoint; u != "" {
		if parsed, err := url.Parse(u); err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			return config{}, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT=%q: must be an http(s) URL such as http://127.0.0.1:4318", u)
		}
	}
	cfg.LogLevel = getenv("LOG_LEVEL")
	if err := new(slog.Level).UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return config{}, fmt.Errorf("LOG_LEVEL=%q: must be debug, info, warn or error", cfg.LogLevel)
	}
	cfg.LogFormat = strings.ToLower(getenv("LOG_FORMAT"))
	switch cfg.LogFormat {
	case "":
		cfg.LogFormat = "text"
		if cfg.AppEnv == "production" {
			cfg.LogFormat = "json"
		}
	case "json", "text":
	default:
		return config{}, fmt.Errorf("LOG_FORMAT=%q: must be json or text", cfg.LogFormat)
	}
	cfg.Auth = auth.Config{
		APIKeys:            splitList(getenv("AUTH_API_KEYS")),
		HS256Secret:        getenv("AUTH_JWT_HS256_SECRET"),
		RS256PublicKeyFile: getenv("AUTH_JWT_RS256_PUBLIC_KEY_FILE"),
	}
	if raw := getenv("AUTH_FAILURES_PER_MINUTE"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 || n > 1_000_000 {
			return config{}, fmt.Errorf("AUTH_FAILURES_PER_MINUTE=%q: must be a whole number from 0 to 1000000", raw)
		}
		cfg.Auth.FailuresPerMinute = n
	}
	if cfg.CORSOrigins, err = parseOrigins("CORS_ALLOWED_ORIGINS", getenv("CORS_ALLOWED_ORIGINS")); err != nil {
		return config{}, err
	}
	cfg.AllowedOrigins = append(splitList(getenv("WS_ALLOWED_ORIGINS")), cfg.CORSOrigins...)
	if raw := getenv("SUBSCRIPTION_KEEPALIVE_SECONDS"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 600 {
			return config{}, fmt.Errorf("SUBSCRIPTION_KEEPALIVE_SECONDS=%q: must be a whole number from 1 to 600", raw)
		}
		cfg.KeepAlive = time.Duration(n) * time.Second
	}
	cfg.NATS = pubsub.NATSConfig{URL: getenv("NATS_URL"), SubjectPrefix: getenv("NATS_SUBJECT_PREFIX")}
	if err := pubsub.ValidSubjectPrefix(cfg.NATS.SubjectPrefix); err != nil {
		return config{}, fmt.Errorf("NATS_SUBJECT_PREFIX=%q: %w", cfg.NATS.SubjectPrefix, err)
	}
	if cfg.RESTCompat, err = rest.ParseCompat(getenv("REST_COMPAT")); err != nil {
		return config{}, fmt.Errorf("REST_COMPAT=%q: %w", getenv("REST_COMPAT"), err)
	}
	if cfg.Port == "" {
		cfg.Port = "8080"
	}
	if p, err := strconv.Atoi(cfg.Port); err != nil || p < 0 || p > 65535 {
		return config{}, fmt.Errorf("PORT=%q: must be a port number", cfg.Port)
	}
	production := cfg.AppEnv == "production"
	if cfg.Introspection, err = boolEnv(getenv, "GRAPHQL_INTROSPECTION", !production); err != nil {
		return config{}, err
	}
	if cfg.Playground, err = boolEnv(getenv, "GRAPHQL_PLAYGROUND", !production); err != nil {
		return config{}, err
	}
	if cfg.WebhookAllowPrivate, err = boolEnv(getenv, "WEBHOOK_ALLOW_PRIVATE", false); err != nil {
		return config{}, err
	}
	cfg.WebhookInterval = 250 * time.Millisecond
	if v := getenv("WEBHOOK_DISPATCH_INTERVAL_MS"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms < 10 || ms > 60_000 {
			return config{}, fmt.Errorf("WEBHOOK_DISPATCH_INTERVAL_MS must be 10 to 60000, got %q", v)
		}
		cfg.WebhookInterval = time.Duration(ms) * time.Millisecond
	}
	trustedOnly, err := boolEnv(getenv, "GRAPHQL_TRUSTED_DOCUMENTS_ONLY", false)
	if err != nil {
		return config{}, err
	}
	if path := getenv("GRAPHQL_TRUSTED_DOCUMENTS"); path != "" {
		docs, err := graph.ReadTrustedDocuments(path)
		if err != nil {
			return config{}, fmt.Errorf("GRAPHQL_TRUSTED_DOCUMENTS=%q: %w", path, err)
		}
		cfg.TrustedDocuments = &graph.TrustedDocuments{ByHash: docs, Only: trustedOnly}
	} else if trustedOnly {
		return config{}, fmt.Errorf("GRAPHQL_TRUSTED_DOCUMENTS_ONLY=true needs GRAPHQL_TRUSTED_DOCUMENTS (the manifest)")
	}

	d := models.DefaultSessionPolicy()
	ints := []struct {
		name     string
		dst      *int
		def      int
		min, max int
	}{
		{"SESSION_DEFAULT_TIMEOUT_MINUTES", &cfg.Policy.DefaultTimeoutMinutes, d.DefaultTimeoutMinutes, 1, 10080},
		{"SESSION_MIN_TIMEOUT_MINUTES", &cfg.Policy.MinTimeoutMinutes, d.MinTimeoutMinutes, 1, 60},
		{"SESSION_MAX_TIMEOUT_MINUTES", &cfg.Policy.MaxTimeoutMinutes, d.MaxTimeoutMinutes, 60, 10080},
		{"SESSION_MAX_DURATION_MINUTES", &cfg.Policy.MaxDurationMinutes, d.MaxDurationMinutes, 60, 20160},
		{"SESSION_WARNING_THRESHOLD_MINUTES", &cfg.Policy.WarningThresholdMinutes, d.WarningThresholdMinutes, 1, 60},
	}
	for _, v := range ints {
		if *v.dst, err = cfg.clampedInt(getenv, v.name, v.def, v.min, v.max); err != nil {
			return config{}, err
		}
	}
	cfg.RateLimit = 1200
	if raw := getenv("RATE_LIMIT_PER_MINUTE"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 {
			return config{}, fmt.Errorf("RATE_LIMIT_PER_MINUTE=%q: must be a whole number, 0 or more", raw)
		}
		cfg.RateLimit = n
	}
	for _, cap := range []struct {
		name string
		dst  *int
	}{
		{"SUBSCRIPTIONS_PER_CONNECTION", &cfg.SubscriptionsPerConnection},
		{"SUBSCRIPTIONS_PER_CALLER", &cfg.SubscriptionsPerCaller},
	} {
		raw := getenv(cap.name)
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 1_000_000 {
			return config{}, fmt.Errorf("%s=%q: must be a whole number from 1 to 1000000", cap.name, raw)
		}
		*cap.dst = n
	}
	if raw := getenv("REQUEST_TIMEOUT_SECONDS"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 600 {
			return config{}, fmt.Errorf("REQUEST_TIMEOUT_SECONDS=%q: must be a whole number from 1 to 600", raw)
		}
		cfg.RequestTimeout = time.Duration(n) * time.Second
	}
	cfg.BodyReadTimeout = 10 * time.Second
	if raw := getenv("BODY_READ_TIMEOUT_SECONDS"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 600 {
			return config{}, fmt.Errorf("BODY_READ_TIMEOUT_SECONDS=%q: must be a whole number from 1 to 600", raw)
		}
		cfg.BodyReadTimeout = time.Duration(n) * time.Second
	}
	if raw := getenv("SHUTDOWN_TIMEOUT_SECONDS"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 600 {
			return config{}, fmt.Errorf("SHUTDOWN_TIMEOUT_SECONDS=%q: must be a whole number from 1 to 600", raw)
		}
		cfg.ShutdownTimeout = time.Duration(n) * time.Second
	}
	cleanup, err := cfg.clampedInt(getenv, "SESSION_CLEANUP_INTERVAL_MINUTES", 5, 1, 60)
	if err != nil {
		return config{}, err
	}
	cfg.CleanupInterval = time.Duration(cleanup) * time.Minute
	if raw := getenv("SESSION_RETENTION_HOURS"); raw != "" {
		if cfg.Retention, err = hours("SESSION_RETENTION_HOURS", raw); err != nil {
			return config{}, err
		}
	}
	if cfg.FeedRetention, err = hours("AGENT_FEED_RETENTION_HOURS", getenv("AGENT_FEED_RETENTION_HOURS")); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// hours parses a retention setting: hours, fractions allowed, from 0 (keep
// everything) to a million. NaN fails every comparison, so the bounds are
// written to let only real numbers through: converted, it would be a
// negative duration.
func hours(name, raw string) (time.Duration, error) {
	h, err := strconv.ParseFloat(raw, 64)
	if err != nil || !(h >= 0 && h <= 1e6) {
		return 0, fmt.Errorf("%s=%q: must be a number of hours from 0 (keep everything) to 1000000", name, raw)
	}
	return time.Duration(h * float64(time.Hour)), nil
}

// parseReadReplicas reads DATABASE_READ_URLS and DATABASE_READ_MAX_LAG_MS.
// Standbys only make sense beside a PostgreSQL primary; with SQLite the
// setting is ignored (a warning is logged at start-up).
func parseReadReplicas(getenv func(string) string) (store.ReadReplicas, error) {
	var r store.ReadReplicas
	for _, u := range splitList(getenv("DATABASE_READ_URLS")) {
		if !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
			return r, fmt.Errorf("DATABASE_READ_URLS: every entry must start with postgres:// or postgresql://")
		}
		if _, err := url.Parse(u); err != nil {
			return r, fmt.Errorf("DATABASE_READ_URLS: an entry is not a valid URL")
		}
		r.URLs = append(r.URLs, u)
	}
	raw := getenv("DATABASE_READ_MAX_LAG_MS")
	n, err := strconv.Atoi(raw)
	if err != nil || n < 10 || n > 600_000 {
		return r, fmt.Errorf("DATABASE_READ_MAX_LAG_MS=%q: must be a whole number of milliseconds from 10 to 600000", raw)
	}
	r.MaxLag = time.Duration(n) * time.Millisecond
	return r, nil
}

func splitList(raw string) []string {
	var out []string
	for _, part := range strings.Split(raw, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func (cfg *config) clampedInt(getenv func(string) string, name string, def, lo, hi int) (int, error) {
	raw := getenv(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: must be a whole number of minutes", name, raw)
	}
	if clamped := max(lo, min(n, hi)); clamped != n {
		cfg.Clamped = append(cfg.Clamped, fmt.Sprintf("%s=%d is outside %d..%d; using %d", name, n, lo, hi, clamped))
		return clamped, nil
	}
	return n, nil
}

func boolEnv(getenv func(string) string, name string, def bool) (bool, error) {
	raw := getenv(name)
	if raw == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(raw)
	if err != nil {
		return false, fmt.Errorf("%s=%q: must be true or false", name, raw)
	}
	return b, nil
}
