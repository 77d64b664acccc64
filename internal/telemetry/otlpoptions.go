package telemetry

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// defaultExportTimeout bounds one attempt, as the specification's default.
const defaultExportTimeout = 10 * time.Second

// ExporterOptions are the exporter settings the OpenTelemetry specification
// reads from OTEL_EXPORTER_OTLP_* (the TRACES_ variant winning), as
// otlptracehttp read them before sessionhub had its own client. The zero
// value sends plain protobuf with the default timeout.
type ExporterOptions struct {
	header  http.Header
	timeout time.Duration // per attempt
	gzip    bool
	tls     *tls.Config
}

// ExporterOptionsFromEnv reads the options; a malformed one is an error, so
// that a typo stops start-up instead of going unnoticed.
func ExporterOptionsFromEnv(getenv func(string) string) (ExporterOptions, error) {
	get := func(name string) string {
		if v := getenv("OTEL_EXPORTER_OTLP_TRACES_" + name); v != "" {
			return v
		}
		return getenv("OTEL_EXPORTER_OTLP_" + name)
	}
	opts := ExporterOptions{header: http.Header{}, timeout: defaultExportTimeout}
	for _, pair := range strings.Split(get("HEADERS"), ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		key, value, ok := strings.Cut(pair, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return opts, fmt.Errorf("OTEL_EXPORTER_OTLP_HEADERS: %q is not key=value", key)
		}
		value, err := url.PathUnescape(value)
		if err != nil {
			return opts, fmt.Errorf("OTEL_EXPORTER_OTLP_HEADERS: value of %s: %w", key, err)
		}
		opts.header.Set(key, strings.TrimSpace(value))
	}
	if v := get("TIMEOUT"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return opts, fmt.Errorf("OTEL_EXPORTER_OTLP_TIMEOUT: %q is not a positive number of milliseconds", v)
		}
		opts.timeout = time.Duration(ms) * time.Millisecond
	}
	switch v := get("COMPRESSION"); v {
	case "", "none":
	case "gzip":
		opts.gzip = true
	default:
		return opts, fmt.Errorf("OTEL_EXPORTER_OTLP_COMPRESSION: %q is neither gzip nor none", v)
	}
	if file := get("CERTIFICATE"); file != "" {
		pem, err := os.ReadFile(file)
		if err != nil {
			return opts, fmt.Errorf("OTEL_EXPORTER_OTLP_CERTIFICATE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return opts, fmt.Errorf("OTEL_EXPORTER_OTLP_CERTIFICATE: no PEM certificate in %s", file)
		}
		opts.tls = &tls.Config{RootCAs: pool}
	}
	if certFile, keyFile := get("CLIENT_CERTIFICATE"), get("CLIENT_KEY"); certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return opts, fmt.Errorf("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and _KEY: %w", err)
		}
		if opts.tls == nil {
			opts.tls = &tls.Config{}
		}
		opts.tls.Certificates = []tls.Certificate{cert}
	}
	return opts, nil
}
