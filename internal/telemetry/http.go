package telemetry

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
)

// RequestIDHeader carries a request's id in and out: a caller's own id is
// kept when it is sane, otherwise sessionhub makes one (a UUID v7).
const RequestIDHeader = "X-Request-ID"

// Route names the transport and route pattern a request goes to, for
// labels and span names; patterns keep the metric cardinality bounded.
type Route func(*http.Request) (transport, route string)

// Middleware gives every request an id (returned in X-Request-ID and
// attached to its logs), counts and times it, and logs it: at debug level
// normally, at error level when the server failed (5xx).
func Middleware(next http.Handler, metrics *Metrics, log *slog.Logger, route Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = uuid.Must(uuid.NewV7()).String()
		}
		w.Header().Set(RequestIDHeader, id)
		r = r.WithContext(WithRequestID(r.Context(), id))

		transport, pattern := route(r)
		upgraded := strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
		rec := record(w)
		began := time.Now()
		next.ServeHTTP(rec, r)
		elapsed := time.Since(began)
		status := rec.Status()
		// A Server-Sent Events stream lasts as long as its subscription: like
		// a WebSocket, it is counted but not timed.
		streamed := upgraded || strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream")
		metrics.observeRequest(transport, pattern, status, elapsed, streamed)

		level := slog.LevelDebug
		if status >= 500 {
			level = slog.LevelError
		}
		if log.Enabled(r.Context(), level) {
			log.LogAttrs(r.Context(), level, "request",
				slog.String("method", r.Method),
				slog.String("route", pattern),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int64("bytes", rec.Written()),
				slog.Duration("duration", elapsed),
			)
		}
	})
}

// validRequestID accepts ids of up to 128 letters, digits, '-', '_' and '.',
// so a caller cannot inject log lines or huge headers through it.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}
