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
