package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// setting is one configuration knob, read from a flag, else from its
// environment variable, else its default.
type setting struct {
	env   string
	def   string
	usage string
}

// flagName is the setting's command-line spelling: PORT → --port.
func (s setting) flagName() string {
	return strings.ReplaceAll(strings.ToLower(s.env), "_", "-")
}

// settings lists every knob sessionhub has; README's table mirrors it.
var settings = []setting{
	{env: "PORT", def: "8080", usage: "TCP port to listen on, all interfaces (0 picks a free one)"},
	{env: "DATABASE_URL", usage: "postgres://… or sqlite:<file>; empty is SQLite at ./data/sessionhub.db"},
	{env: "DATABASE_READ_URLS", usage: "comma-separated postgres:// URLs of streaming standbys of DATABASE_URL that serve history, lists and session reads (ignored on SQLite)"},
	{env: "DATABASE_READ_MAX_LAG_MS", def: "250", usage: "a standby serves a read only if it holds every write acknowledged this long ago, 10..600000"},
	{env: "APP_ENV", usage: "production turns off introspection and the playground and logs JSON"},
	{env: "LOG_LEVEL", def: "info", usage: "debug, info, warn or error (debug logs every request)"},
	{env: "LOG_FORMAT", usage: "json or text (default: json in production, text otherwise)"},
	{env: "GRAPHQL_INTROSPECTION", usage: "true or false (default: true unless APP_ENV=production)"},
	{env: "GRAPHQL_PLAYGROUND", usage: "serve GraphiQL at / (default: true unless APP_ENV=production)"},
	{env: "GRAPHQL_TRUSTED_DOCUMENTS", usage: "trusted-documents manifest (JSON {sha256: document}, graphql-codegen persistedDocuments) served by hash"},
	{env: "GRAPHQL_TRUSTED_DOCUMENTS_ONLY", def: "false", usage: "refuse every GraphQL document not in GRAPHQL_TRUSTED_DOCUMENTS (UNTRUSTED_DOCUMENT)"},
	{env: "WEBHOOK_ALLOW_PRIVATE", def: "false", usage: "let agent webhooks target loopback, private and link-local addresses (development only)"},
	{env: "WEBHOOK_DISPATCH_INTERVAL_MS", def: "250", usage: "how often each replica draws webhook deliveries and idle workers look for due retries, 10..60000"},
	{env: "SESSION_DEFAULT_TIMEOUT_MINUTES", def: "30", usage: "inactivity timeout of a new session, clamped to 1..10080"},
	{env: "SESSION_MIN_TIMEOUT_MINUTES", def: "5", usage: "smallest timeout a session may ask for, clamped to 1..60"},
	{env: "SESSION_MAX_TIMEOUT_MINUTES", def: "1440", usage: "largest timeout a session may ask for, clamped to 60..10080"},
	{env: "SESSION_MAX_DURATION_MINUTES", def: "720", usage: "hard cap on a session's life, clamped to 60..20160"},
	{env: "SESSION_WARNING_THRESHOLD_MINUTES", def: "5", usage: "isNearExpiration window, clamped to 1..60"},
	{env: "SESSION_CLEANUP_INTERVAL_MINUTES", def: "5", usage: "how often the retention sweep runs, clamped to 1..60"},
	{env: "SESSION_RETENTION_HOURS", def: "0", usage: "delete sessions this long after they expired; 0 keeps them"},
	{env: "AGENT_FEED_RETENTION_HOURS", def: "168", usage: "delete agent feed events (agentEvents, webhook drawing) and delivered or failed webhook deliveries this long after they happened; 0 keeps them"},
	{env: "RATE_LIMIT_PER_MINUTE", def: "1200", usage: "requests per caller per minute on each replica; 0 turns limiting off"},
	{env: "SUBSCRIPTIONS_PER_CONNECTION", def: "100", usage: "open subscriptions one WebSocket connection may hold, 1..1000000"},
	{env: "SUBSCRIPTIONS_PER_CALLER", def: "1000", usage: "open subscriptions one caller may hold on each replica, 1..1000000"},
	{env: "REQUEST_TIMEOUT_SECONDS", def: "10", usage: "longest a request may work, 1..600 (503 after)"},
	{env: "BODY_READ_TIMEOUT_SECONDS", def: "10", usage: "longest a request body may take to arrive, 1..600 (408 after)"},
	{env: "SHUTDOWN_TIMEOUT_SECONDS", def: "20", usage: "how long in-flight requests may finish after SIGTERM, 1..600"},
	{env: "AUTH_API_KEYS", usage: "comma-separated admin API keys (X-API-KEY or Authorization: Bearer); no keys and no JWT settings means no auth"},
	{env: "AUTH_FAILURES_PER_MINUTE", def: "10", usage: "failed authentications one client address may make per minute on each replica before 429; 0 turns the limit off"},
	{env: "AUTH_JWT_HS256_SECRET", usage: "shared secret for HS256 bearer tokens"},
	{env: "AUTH_JWT_RS256_PUBLIC_KEY_FILE", usage: "PEM public key file for RS256 bearer tokens"},
	{env: "NATS_URL", usage: "carry session events between replicas over NATS (nats://host:4222, a comma-separated cluster) instead of PostgreSQL LISTEN/NOTIFY; empty keeps LISTEN/NOTIFY"},
	{env: "NATS_SUBJECT_PREFIX", def: "sessionhub.events", usage: "with NATS_URL: events of session <id> go to <prefix>.<id>"},
	{env: "REST_COMPAT", usage: "answer envelope of the REST shim: documented (the documented bodies) or elizaos (what @elizaos/api-client unwraps)"},
	{env: "CORS_ALLOWED_ORIGINS", usage: "comma-separated browser origins (https://app.example.com, or *) allowed to call /query, the REST shim and /openapi.json and to open WebSockets (default: same origin only)"},
	{env: "WS_ALLOWED_ORIGINS", usage: "more origin host patterns (app.example.com) allowed to open WebSockets only, besides CORS_ALLOWED_ORIGINS"},
	{env: "SUBSCRIPTION_KEEPALIVE_SECONDS", def: "10", usage: "keep-alive ping interval of WebSocket and Server-Sent Events subscriptions, 1..600"},
	{env: "OTEL_EXPORTER_OTLP_ENDPOINT", usage: "OTLP/HTTP collector base URL (e.g. http://127.0.0.1:4318); empty turns tracing off"},
	{env: "OTEL_SERVICE_NAME", def: "sessionhub", usage: "service.name of exported spans"},
	{env: "PPROF_ADDR", usage: "serve net/http/pprof on this address (e.g. 127.0.0.1:6060); empty turns it off"},
}

// errHelp is returned after --help printed the usage.
var errHelp = errors.New("help requested")

// resolveSettings parses args (flags win over the environment, which wins
// over defaults) and returns a lookup of every setting by its env name.
func resolveSettings(args []string, getenv func(string) string, out io.Writer) (func(string) string, error) {
	name := "sessionhub"
	if len(args) > 0 {
		args = args[1:]
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned; only --help prints
	values := make(map[string]*string, len(settings))
	for _, s := range settings {
		values[s.env] = fs.String(s.flagName(), s.def, s.usage+" ($"+s.env+")")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(out, "Usage: %s [flags]\n\nEvery flag can also be set by the environment variable named in its\nhelp; a flag wins over the variable.\n\n", name)
			fs.SetOutput(out)
			fs.PrintDefaults()
			return nil, errHelp
		}
		return nil, fmt.Errorf("%w (see --help)", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (settings are flags like --port 8080)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	resolved := make(map[string]string, len(settings))
	for _, s := range settings {
		switch v := getenv(s.env); {
		case set[s.flagName()]:
			resolved[s.env] = *values[s.env]
		case v != "":
			resolved[s.env] = v
		default:
			resolved[s.env] = s.def
		}
	}
	return func(env string) string { return resolved[env] }, nil
}
