package telemetry

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// recorder is the one response-writer wrapper of the request path: it
// learns the status and body size for metrics, the request log and the
// server span, and passes on what handlers look for on the writer: Flush
// (gqlgen's SSE and multipart transports and our streams assert
// http.Flusher), Hijack (coder/websocket asserts http.Hijacker) and Unwrap
// (http.ResponseController finds deadlines and full duplex on the real
// writer). Like any ResponseWriter it is not for concurrent use.
//
// It has no ReadFrom: net/http's only gains from it are sendfile and
// splice, and nothing here copies a file or a connection into a response
// (the playground serves bytes from memory).
type recorder struct {
	http.ResponseWriter
	status      int   // the final status; 0 until one is sent
	written     int64 // body bytes accepted by the writer
	wroteHeader bool
}

// record wraps w, or returns w itself when it is already a recorder (the
// tracing handler's, seen again by Middleware): both observe the same
// response, so one wrapper serves both.
func record(w http.ResponseWriter) *recorder {
	if rec, ok := w.(*recorder); ok {
		return rec
	}
	return &recorder{ResponseWriter: w}
}

// Status is the response's final status: the first one written, 200 when
// the handler wrote a body or nothing at all (what net/http sends), and 101
// for a connection hijacked without one.
func (w *recorder) Status() int {
	if !w.wroteHeader {
		return http.StatusOK
	}
	return w.status
}

// Written is the number of body bytes the handler wrote.
func (w *recorder) Written() int64 { return w.written }

func (w *recorder) WriteHeader(code int) {
	// 1xx answers (103 Early Hints) precede the final one, as in net/http;
	// 101 ends the HTTP exchange and is final.
	if !w.wroteHeader && (code < 100 || code > 199 || code == http.StatusSwitchingProtocols) {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

// WriteString keeps net/http's copy-free path for io.WriteString (the SSE
// transports write every event with it).
func (w *recorder) WriteString(s string) (int, error) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	n, err := io.WriteString(w.ResponseWriter, s)
	w.written += int64(n)
	return n, err
}

// Flush sends the header (200 unless one was written) and what is buffered.
func (w *recorder) Flush() {
	if !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
		return
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush() // follows Unwrap
}

// Hijack hands the connection over (WebSockets). It fails with an error
// wrapping http.ErrNotSupported when the writer underneath cannot.
func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusSwitchingProtocols, true
	}
	return conn, rw, err
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
