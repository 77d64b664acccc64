package telemetry

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/attribute"
)

// What handlers look for on the writer, asserted the way they do it.
var (
	_ http.Flusher                              = (*recorder)(nil) // gqlgen SSE and multipart, graph's SSE
	_ http.Hijacker                             = (*recorder)(nil) // coder/websocket
	_ io.StringWriter                           = (*recorder)(nil)
	_ interface{ Unwrap() http.ResponseWriter } = (*recorder)(nil)
)

func TestRecorder(t *testing.T) {
	tests := []struct {
		name       string
		handle     func(w http.ResponseWriter)
		wantStatus int // recorded
		wantSent   int // what the client got
		wantBytes  int64
	}{
		{"WriteHeader then Write", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte("made"))
		}, 201, 201, 4},
		{"Write only", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte("hello"))
			_, _ = io.WriteString(w, " world")
		}, 200, 200, 11},
		{"103 then 200", func(w http.ResponseWriter) {
			w.Header().Set("Link", "</app.js>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("x"))
		}, 200, 200, 1},
		{"103 then a body", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusEarlyHints)
			_, _ = w.Write([]byte("x"))
		}, 200, 200, 1},
		{"no write at all", func(http.ResponseWriter) {}, 200, 200, 0},
		{"the first status wins", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.WriteHeader(http.StatusOK) // superfluous: net/http ignores it
		}, 503, 503, 0},
		{"a Write fixes the status", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte("x"))
			w.WriteHeader(http.StatusInternalServerError)
		}, 200, 200, 1},
		{"a Flush fixes the status", func(w http.ResponseWriter) {
			w.(http.Flusher).Flush()
			w.WriteHeader(http.StatusInternalServerError)
		}, 200, 200, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Through a real server, so the recorder agrees with what net/http sent.
			var rec *recorder
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec = record(w)
				tt.handle(rec)
			}))
			defer srv.Close()
			res, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.wantSent || int64(len(body)) != tt.wantBytes {
				t.Errorf("client got %d with %d bytes, want %d with %d", res.StatusCode, len(body), tt.wantSent, tt.wantBytes)
			}
			if rec.Status() != tt.wantStatus || rec.Written() != tt.wantBytes {
				t.Errorf("recorded %d, %d bytes; want %d, %d bytes", rec.Status(), rec.Written(), tt.wantStatus, tt.wantBytes)
			}
		})
	}
}

func TestRecordSharesOneWrapper(t *testing.T) {
	rec := record(httptest.NewRecorder())
	if record(rec) != rec {
		t.Error("a recorder is wrapped again")
	}
}

// TestRecorderFlushes streams two chunks and reads the first before the
// handler writes the second: only a flush that reached the connection lets
// the client see it.
func TestRecorderFlushes(t *testing.T) {
	firstRead := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := record(w)
		_, _ = io.WriteString(rec, "first\n")
		rec.Flush()
		select {
		case <-firstRead:
		case <-time.After(5 * time.Second):
			t.Error("the first chunk never arrived")
		}
		_, _ = io.WriteString(rec, "second\n")
	}))
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	line, err := bufio.NewReader(res.Body).ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("read %q, %v", line, err)
	}
	close(firstRead)

	// A writer that flushes only through Unwrap is reached too.
	under := httptest.NewRecorder()
	record(unwrapOnly{under}).Flush()
	if !under.Flushed {
		t.Error("Flush did not reach a writer behind Unwrap")
	}
}

// unwrapOnly hides its writer's optional methods behind Unwrap, as other
// middleware does.
type unwrapOnly struct{ w http.ResponseWriter }

func (u unwrapOnly) Header() http.Header         { return u.w.Header() }
func (u unwrapOnly) Write(p []byte) (int, error) { return u.w.Write(p) }
func (u unwrapOnly) WriteHeader(code int)        { u.w.WriteHeader(code) }
func (u unwrapOnly) Unwrap() http.ResponseWriter { return u.w }

// TestRecorderHijacks takes the connection over and speaks on it directly;
// the deadlines http.ResponseController sets reach the real writer.
func TestRecorderHijacks(t *testing.T) {
	recorded := make(chan int, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := record(w)
		rc := http.NewResponseController(rec)
		if err := rc.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Errorf("SetWriteDeadline through the recorder: %v", err)
		}
		if err := rc.EnableFullDuplex(); err != nil {
			t.Errorf("EnableFullDuplex through the recorder: %v", err)
		}
		conn, brw, err := rec.Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		line, _ := brw.ReadString('\n')
		_, _ = conn.Write([]byte("echo " + line))
		recorded <- rec.Status()
	}))
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("answer %v, %v", res, err)
	}
	_, _ = io.WriteString(conn, "ping\n")
	if line, err := br.ReadString('\n'); err != nil || line != "echo ping\n" {
		t.Fatalf("read %q, %v from the hijacked connection", line, err)
	}
	if status := <-recorded; status != http.StatusSwitchingProtocols {
		t.Errorf("a hijack without a status recorded %d, want 101", status)
	}

	// A writer that cannot hijack says so, as http.ResponseController does.
	if _, _, err := record(httptest.NewRecorder()).Hijack(); !errors.Is(err, http.ErrNotSupported) {
		t.Errorf("Hijack on a recorder = %v, want http.ErrNotSupported", err)
	}
	if err := http.NewResponseController(record(httptest.NewRecorder())).SetReadDeadline(time.Now()); !errors.Is(err, http.ErrNotSupported) {
		t.Errorf("SetReadDeadline = %v, want http.ErrNotSupported", err)
	}
}

// TestMiddlewareWebSocket upgrades with coder/websocket through Middleware
// and the tracing handler, as /query and /api/ do.
func TestMiddlewareWebSocket(t *testing.T) {
	m := newTestMetrics(t)
	log, _ := NewLogger(io.Discard, "json", "info")
	route := func(*http.Request) (string, string) { return "graphql", "/query" }
	tracing, spans := newRecordedTracing()
	ws := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.CloseNow()
		typ, p, err := c.Read(r.Context())
		if err == nil {
			err = c.Write(r.Context(), typ, append([]byte("echo "), p...))
		}
		if err != nil {
			t.Error(err)
		}
		_, _, _ = c.Read(r.Context()) // until the client closes
	})
	chain := tracing.Handler(Middleware(ws, m, log, route), route)
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chain.ServeHTTP(w, r)
		close(done) // the request is counted
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Header.Get(RequestIDHeader) == "" {
		t.Error("the upgrade answer carries no request id")
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.Read(ctx); err != nil || string(p) != "echo hi" {
		t.Fatalf("read %q, %v", p, err)
	}
	_ = c.Close(websocket.StatusNormalClosure, "")
	<-done
	if got := testutil.ToFloat64(m.requests.WithLabelValues("graphql", "/query", "101")); got != 1 {
		t.Errorf("upgrades counted as 101: %v, want 1", got)
	}
	if ended := spans.Ended(); len(ended) != 1 || !hasAttribute(ended[0].Attributes(), "http.response.status_code", int64(101)) {
		t.Errorf("spans %v, want one with status code 101", ended)
	}
}

func hasAttribute(attrs []attribute.KeyValue, key attribute.Key, v any) bool {
	for _, kv := range attrs {
		if kv.Key == key {
			return kv.Value.AsInterface() == v
		}
	}
	return false
}
