package main

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
)

// withBodyDeadline gives each request body timeout to arrive in full, so a
// client trickling it a byte at a time cannot hold a connection and a
// handler forever: past the deadline the body's next read fails with
// os.ErrDeadlineExceeded, which the REST shim and /query answer with 408
// (and the connection is closed). The deadline is per request, through
// http.ResponseController, not http.Server.ReadTimeout: that one would
// also cut off handlers still working after their body arrived, and
// WebSocket upgrades (which have no body) are left alone. Once the body
// is read to its end the deadline is lifted.
func withBodyDeadline(timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if timeout <= 0 || r.Body == nil || r.Body == http.NoBody || strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			next.ServeHTTP(w, r) // a writer without deadlines (tests): nothing to bound
			return
		}
		r.Body = &deadlineBody{ReadCloser: r.Body, lift: func() { _ = rc.SetReadDeadline(time.Time{}) }}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline when the body has been read to its
// end, so the connection's idle read and a long-running handler are not cut
// off by it. After any other error (the deadline itself) it stays, so the
// server drops the connection instead of waiting for the rest.
type deadlineBody struct {
	io.ReadCloser
	lift   func()
	lifted bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.lifted {
		b.lifted = true
		b.lift()
	}
	return n, err
}
