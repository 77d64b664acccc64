package rest_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"sessionhub/internal/store"
)

// BenchmarkSendRequest is one REST send in process: decoding, validation,
// the service and the store (SQLite), and encoding the answer.
//
//	go test -run '^$' -bench BenchmarkSendRequest -benchmem ./internal/rest/
func BenchmarkSendRequest(b *testing.B) {
	s := newShim(b, store.SQLite)
	path := "/api/messaging/sessions/" + s.session(`{"timeoutMinutes":1440,"maxDurationMinutes":2880}`) + "/messages"
	body := `{"content":"Hello, how are you?","metadata":{"source":"web"},"attachments":[{"type":"image","url":"https://example.com/a.png"}]}`
	for b.Loop() {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.mux.ServeHTTP(rec, req)
		if rec.Code != 201 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkRejectedRequest is decoding and validation alone: a body the shim
// refuses before touching the database.
func BenchmarkRejectedRequest(b *testing.B) {
	s := newShim(b, store.SQLite)
	body := `{"content":5,"metadata":{"source":"web"}}`
	for b.Loop() {
		req := httptest.NewRequest("POST", "/api/messaging/sessions/x/messages", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.mux.ServeHTTP(rec, req)
		if rec.Code != 400 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkReads is the two reads cmd/loadgen measures, in process: the
// history page (the 20 newest messages) and one session by id, on each
// database (PostgreSQL from TEST_DATABASE_URL).
//
//	CI=true go test -run '^$' -bench BenchmarkReads -benchmem ./internal/rest/
func BenchmarkReads(b *testing.B) {
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(dialect), func(b *testing.B) {
			s := newShim(b, dialect)
			id := s.session(`{"timeoutMinutes":1440,"maxDurationMinutes":2880}`)
			for range 40 {
				s.send(id, "Hello, how are you?")
			}
			for name, path := range map[string]string{
				"history": "/api/messaging/sessions/" + id + "/messages?limit=20",
				"session": "/api/messaging/sessions/" + id,
			} {
				b.Run(name, func(b *testing.B) {
					for b.Loop() {
						rec := httptest.NewRecorder()
						s.mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
						if rec.Code != 200 {
							b.Fatalf("%d %s", rec.Code, rec.Body)
						}
					}
				})
			}
		})
	}
}
