package main

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func envOf(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestConfigSources(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, cfg config)
	}{
		{"defaults", nil, nil, func(t *testing.T, cfg config) {
			if cfg.Port != "8080" || cfg.RateLimit != 1200 || cfg.RequestTimeout != 10*time.Second || cfg.ShutdownTimeout != 20*time.Second {
				t.Errorf("port %q rate %d timeouts %v %v", cfg.Port, cfg.RateLimit, cfg.RequestTimeout, cfg.ShutdownTimeout)
			}
			if cfg.Policy.DefaultTimeoutMinutes != 30 || cfg.LogFormat != "text" || cfg.LogLevel != "info" || !cfg.Playground || !cfg.Introspection {
				t.Errorf("policy %+v log %s/%s playground %v introspection %v", cfg.Policy, cfg.LogFormat, cfg.LogLevel, cfg.Playground, cfg.Introspection)
			}
			if cfg.Tracing.Endpoint != "" || cfg.Tracing.ServiceName != "sessionhub" {
				t.Errorf("tracing %+v", cfg.Tracing)
			}
			if len(cfg.ReadReplicas.URLs) != 0 || cfg.ReadReplicas.MaxLag != 250*time.Millisecond {
				t.Errorf("read replicas %+v", cfg.ReadReplicas)
			}
			if cfg.FeedRetention != 7*24*time.Hour {
				t.Errorf("agent feed retention %v, want 7 days", cfg.FeedRetention)
			}
		}},
		{"environment", nil, map[string]string{"PORT": "9000", "SESSION_DEFAULT_TIMEOUT_MINUTES": "45", "SHUTDOWN_TIMEOUT_SECONDS": "3"}, func(t *testing.T, cfg config) {
			if cfg.Port != "9000" || cfg.Policy.DefaultTimeoutMinutes != 45 || cfg.ShutdownTimeout != 3*time.Second {
				t.Errorf("port %q timeout %d shutdown %v", cfg.Port, cfg.Policy.DefaultTimeoutMinutes, cfg.ShutdownTimeout)
			}
		}},
		{"a flag wins over the environment", []string{"--port", "9100", "-session-default-timeout-minutes=50"}, map[string]string{"PORT": "9000", "SESSION_DEFAULT_TIMEOUT_MINUTES": "45"}, func(t *testing.T, cfg config) {
			if cfg.Port != "9100" || cfg.Policy.DefaultTimeoutMinutes != 50 {
				t.Errorf("port %q timeout %d", cfg.Port, cfg.Policy.DefaultTimeoutMinutes)
			}
		}},
		{"production turns off the playground and logs JSON", nil, map[string]string{"APP_ENV": "production"}, func(t *testing.T, cfg config) {
			if cfg.Playground || cfg.Introspection || cfg.LogFormat != "json" {
				t.Errorf("playground %v introspection %v format %s", cfg.Playground, cfg.Introspection, cfg.LogFormat)
			}
		}},
		{"an explicit log format wins over production", []string{"--log-format", "TEXT"}, map[string]string{"APP_ENV": "production"}, func(t *testing.T, cfg config) {
			if cfg.LogFormat != "text" {
				t.Errorf("format %s", cfg.LogFormat)
			}
		}},
		{"out of bounds session settings are clamped and reported", nil, map[string]string{"SESSION_DEFAULT_TIMEOUT_MINUTES": "99999", "SESSION_MIN_TIMEOUT_MINUTES": "0"}, func(t *testing.T, cfg config) {
			if cfg.Policy.DefaultTimeoutMinutes != 10080 || cfg.Policy.MinTimeoutMinutes != 1 || len(cfg.Clamped) != 2 {
				t.Errorf("policy %+v clamped %q", cfg.Policy, cfg.Clamped)
			}
		}},
		{"browser origins: CORS_ALLOWED_ORIGINS also opens WebSockets, WS_ALLOWED_ORIGINS only WebSockets", nil,
			map[string]string{"CORS_ALLOWED_ORIGINS": "http://localhost:3000, https://*.example.com", "WS_ALLOWED_ORIGINS": "legacy.example.org", "SUBSCRIPTION_KEEPALIVE_SECONDS": "2"},
			func(t *testing.T, cfg config) {
				if strings.Join(cfg.CORSOrigins, " ") != "http://localhost:3000 https://*.example.com" ||
					strings.Join(cfg.AllowedOrigins, " ") != "legacy.example.org http://localhost:3000 https://*.example.com" || cfg.KeepAlive != 2*time.Second {
					t.Errorf("CORS %q, WebSocket %q, keep-alive %v", cfg.CORSOrigins, cfg.AllowedOrigins, cfg.KeepAlive)
				}
			}},
		{"read replicas", nil, map[string]string{"DATABASE_READ_URLS": "postgres://a:5432/db, postgresql://b/db", "DATABASE_READ_MAX_LAG_MS": "40"}, func(t *testing.T, cfg config) {
			if strings.Join(cfg.ReadReplicas.URLs, " ") != "postgres://a:5432/db postgresql://b/db" || cfg.ReadReplicas.MaxLag != 40*time.Millisecond {
				t.Errorf("read replicas %+v", cfg.ReadReplicas)
			}
		}},
		{"NATS: unset keeps LISTEN/NOTIFY; set, events go to per-session subjects under the prefix", nil, nil, func(t *testing.T, cfg config) {
			if cfg.NATS.URL != "" || cfg.NATS.SubjectPrefix != "sessionhub.events" {
				t.Errorf("NATS %+v", cfg.NATS)
			}
		}},
		{"NATS URL and prefix", []string{"--nats-subject-prefix", "prod.sessionhub"}, map[string]string{"NATS_URL": "nats://127.0.0.1:4222"}, func(t *testing.T, cfg config) {
			if cfg.NATS.URL != "nats://127.0.0.1:4222" || cfg.NATS.SubjectPrefix != "prod.sessionhub" {
				t.Errorf("NATS %+v", cfg.NATS)
			}
		}},
		{"agent feed retention in hours, fractions allowed", nil, map[string]string{"AGENT_FEED_RETENTION_HOURS": "1.5"}, func(t *testing.T, cfg config) {
			if cfg.FeedRetention != 90*time.Minute {
				t.Errorf("agent feed retention %v, want 1h30m", cfg.FeedRetention)
			}
		}},
		{"agent feed retention 0 keeps everything", []string{"--agent-feed-retention-hours", "0"}, map[string]string{"AGENT_FEED_RETENTION_HOURS": "24"}, func(t *testing.T, cfg config) {
			if cfg.FeedRetention != 0 {
				t.Errorf("agent feed retention %v, want 0", cfg.FeedRetention)
			}
		}},
		{"tracing endpoint", []string{"--otel-exporter-otlp-endpoint", "http://127.0.0.1:4318"}, nil, func(t *testing.T, cfg config) {
			if cfg.Tracing.Endpoint != "http://127.0.0.1:4318" {
				t.Errorf("tracing %+v", cfg.Tracing)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(append([]string{"sessionhub"}, tt.args...), envOf(tt.env), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, cfg)
		})
	}
}

func TestConfigRejectsBadValues(t *testing.T) {
	tests := []struct {
		args    []string
		env     map[string]string
		message string
	}{
		{nil, map[string]string{"PORT": "http"}, `PORT="http": must be a port number`},
		{[]string{"--port", "70000"}, nil, `PORT="70000"`},
		{nil, map[string]string{"SESSION_MAX_DURATION_MINUTES": "12h"}, `SESSION_MAX_DURATION_MINUTES="12h": must be a whole number of minutes`},
		{nil, map[string]string{"GRAPHQL_PLAYGROUND": "yes please"}, `GRAPHQL_PLAYGROUND="yes please": must be true or false`},
		{nil, map[string]string{"RATE_LIMIT_PER_MINUTE": "-1"}, `RATE_LIMIT_PER_MINUTE="-1"`},
		{nil, map[string]string{"REQUEST_TIMEOUT_SECONDS": "0"}, `REQUEST_TIMEOUT_SECONDS="0": must be a whole number from 1 to 600`},
		{nil, map[string]string{"AUTH_FAILURES_PER_MINUTE": "-1"}, `AUTH_FAILURES_PER_MINUTE="-1": must be a whole number from 0 to 1000000`},
		{nil, map[string]string{"BODY_READ_TIMEOUT_SECONDS": "601"}, `BODY_READ_TIMEOUT_SECONDS="601": must be a whole number from 1 to 600`},
		{nil, map[string]string{"SHUTDOWN_TIMEOUT_SECONDS": "soon"}, `SHUTDOWN_TIMEOUT_SECONDS="soon"`},
		{nil, map[string]string{"SESSION_RETENTION_HOURS": "-2"}, `SESSION_RETENTION_HOURS="-2": must be a number of hours from 0 (keep everything) to 1000000`},
		{nil, map[string]string{"SESSION_RETENTION_HOURS": "NaN"}, `SESSION_RETENTION_HOURS="NaN": must be a number of hours`},
		{nil, map[string]string{"SESSION_RETENTION_HOURS": "+Inf"}, `SESSION_RETENTION_HOURS="+Inf": must be a number of hours`},
		{nil, map[string]string{"AGENT_FEED_RETENTION_HOURS": "-1"}, `AGENT_FEED_RETENTION_HOURS="-1": must be a number of hours from 0 (keep everything) to 1000000`},
		{nil, map[string]string{"AGENT_FEED_RETENTION_HOURS": "7d"}, `AGENT_FEED_RETENTION_HOURS="7d": must be a number of hours`},
		{nil, map[string]string{"AGENT_FEED_RETENTION_HOURS": "NaN"}, `AGENT_FEED_RETENTION_HOURS="NaN": must be a number of hours`},
		{[]string{"--agent-feed-retention-hours", "1e7"}, nil, `AGENT_FEED_RETENTION_HOURS="1e7": must be a number of hours`},
		{nil, map[string]string{"LOG_LEVEL": "loud"}, `LOG_LEVEL="loud": must be debug, info, warn or error`},
		{nil, map[string]string{"LOG_FORMAT": "xml"}, `LOG_FORMAT="xml": must be json or text`},
		{nil, map[string]string{"REST_COMPAT": "eliza"}, `REST_COMPAT="eliza": must be documented or elizaos`},
		{nil, map[string]string{"APP_ENV": "prodution"}, `APP_ENV="prodution"`},
		{nil, map[string]string{"GRAPHQL_TRUSTED_DOCUMENTS_ONLY": "true"}, `GRAPHQL_TRUSTED_DOCUMENTS_ONLY=true needs GRAPHQL_TRUSTED_DOCUMENTS`},
		{nil, map[string]string{"GRAPHQL_TRUSTED_DOCUMENTS": "no-such-manifest.json"}, `GRAPHQL_TRUSTED_DOCUMENTS="no-such-manifest.json": open no-such-manifest.json`},
		{nil, map[string]string{"GRAPHQL_TRUSTED_DOCUMENTS": "config_test.go"}, `GRAPHQL_TRUSTED_DOCUMENTS="config_test.go": not a JSON object`},
		{nil, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, `OTEL_EXPORTER_OTLP_ENDPOINT="collector:4318": must be an http(s) URL`},
		{nil, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, `OTEL_EXPORTER_OTLP_COMPRESSION: "zstd" is neither gzip nor none`},
		{nil, map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example.com/"}, `CORS_ALLOWED_ORIGINS: "https://app.example.com/" must be * or an origin`},
		{nil, map[string]string{"CORS_ALLOWED_ORIGINS": "http://localhost:3000, app.example.com"}, `"app.example.com" must be * or an origin`},
		{nil, map[string]string{"CORS_ALLOWED_ORIGINS": "https://*.*.example.com"}, `"https://*.*.example.com"`},
		{nil, map[string]string{"NATS_SUBJECT_PREFIX": "sessionhub.>"}, `NATS_SUBJECT_PREFIX="sessionhub.>": subject prefix "sessionhub.>": must be dot-separated tokens`},
		{nil, map[string]string{"SUBSCRIPTION_KEEPALIVE_SECONDS": "0"}, `SUBSCRIPTION_KEEPALIVE_SECONDS="0": must be a whole number from 1 to 600`},
		{nil, map[string]string{"DATABASE_READ_URLS": "sqlite:replica.db"}, `DATABASE_READ_URLS: every entry must start with postgres:// or postgresql://`},
		{nil, map[string]string{"DATABASE_READ_MAX_LAG_MS": "5"}, `DATABASE_READ_MAX_LAG_MS="5": must be a whole number of milliseconds from 10 to 600000`},
		{[]string{"--no-such-flag"}, nil, "flag provided but not defined: -no-such-flag (see --help)"},
		{[]string{"serve"}, nil, `unexpected argument "serve"`},
	}
	for _, tt := range tests {
		t.Run(tt.message, func(t *testing.T) {
			_, err := loadConfig(append([]string{"sessionhub"}, tt.args...), envOf(tt.env), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("error %v, want it to contain %q", err, tt.message)
			}
		})
	}
}

// TestHelpListsEverySetting: --help names each flag, its variable and its
// default, and never prints a secret taken from the environment.
func TestHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	_, err := loadConfig([]string{"sessionhub", "--help"}, envOf(map[string]string{"AUTH_JWT_HS256_SECRET": "s3cr3t-value"}), &out)
	if !errors.Is(err, errHelp) {
		t.Fatalf("err %v, want errHelp", err)
	}
	help := out.String()
	for _, s := range settings {
		if !strings.Contains(help, "-"+s.flagName()+" ") || !strings.Contains(help, "($"+s.env+")") {
			t.Errorf("--help does not list %s as -%s", s.env, s.flagName())
		}
		if s.def != "" && !strings.Contains(help, `(default "`+s.def+`")`) {
			t.Errorf("--help does not show %s's default %q", s.env, s.def)
		}
	}
	if strings.Contains(help, "s3cr3t-value") {
		t.Error("--help printed a secret from the environment")
	}
}

// TestReadmeListsEverySetting keeps the README's configuration table true.
func TestReadmeListsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		if row := "| `" + s.env + "` `--" + s.flagName() + "` |"; !strings.Contains(string(readme), row) {
			t.Errorf("README's configuration table has no row %q", row)
		}
	}
}
