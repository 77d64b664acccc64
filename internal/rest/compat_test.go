package rest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sessionhub/internal/chat"
	"sessionhub/internal/rest"
	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// TestCompatElizaOS pins the envelopes of REST_COMPAT=elizaos byte for byte:
// successes under data, the send as v1.7's MessageResponse, errors (also
// those refused before a handler, like authentication) as
// {success:false,error:{code,message,details}}, with statuses and headers
// unchanged. TestElizaOSClient (e2e) drives the real client against them.
func TestCompatElizaOS(t *testing.T) {
	clock := testutil.NewClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	svc := chat.New(testutil.OpenStore(t, store.SQLite), clock, models.DefaultSessionPolicy())
	agent, err := svc.CreateAgent(context.Background(), chat.CreateAgentInput{Name: "Eliza"})
	if err != nil {
		t.Fatal(err)
	}
	h := rest.New(svc, testutil.Logger(), rest.WithCompat(rest.CompatElizaOS))
	mux := http.NewServeMux()
	h.Register(mux)
	do := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	user := "123e4567-e89b-12d3-a456-426614174000"
	created := do("POST", "/api/messaging/sessions", `{"agentId":"`+agent.ID.String()+`","userId":"`+user+`"}`)
	if created.Code != http.StatusCreated || !strings.HasPrefix(created.Body.String(), `{"success":true,"data":{"sessionId":"`) {
		t.Fatalf("create: %d %s", created.Code, created.Body)
	}
	id := created.Body.String()[len(`{"success":true,"data":{"sessionId":"`):][:36]

	sent := do("POST", "/api/messaging/sessions/"+id+"/messages", `{"content":"hi"}`)
	want := `{"success":true,"data":{"success":true,"userMessage":{"id":"`
	if sent.Code != http.StatusCreated || !strings.HasPrefix(sent.Body.String(), want) ||
		!strings.Contains(sent.Body.String(), `"content":"hi","authorId":"`+user+`","createdAt":"2026-06-01T09:00:00.000Z","metadata":{}},"sessionStatus":{"expiresAt":"2026-06-01T09:30:00.000Z","renewalCount":1,"wasRenewed":true,"isNearExpiration":false}}}`) {
		t.Errorf("send: %d %s", sent.Code, sent.Body)
	}

	clock.Advance(time.Hour)
	expired := do("GET", "/api/messaging/sessions/"+id, "")
	want = `{"success":false,"error":{"code":"SESSION_EXPIRED","message":"Session has expired","details":{"sessionId":"` + id + `","expiresAt":"2026-06-01T09:30:00.000Z"}}}` + "\n"
	if expired.Code != http.StatusGone || expired.Body.String() != want || expired.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("expired: %d %q %s, want 410 no-store %s", expired.Code, expired.Header().Get("Cache-Control"), expired.Body, want)
	}

	deleted := do("DELETE", "/api/messaging/sessions/"+id, "")
	want = `{"success":true,"data":{"success":true,"message":"Session ` + id + ` deleted successfully"}}` + "\n"
	if deleted.Code != http.StatusOK || deleted.Body.String() != want {
		t.Errorf("delete: %d %s, want %s", deleted.Code, deleted.Body, want)
	}

	rec := httptest.NewRecorder()
	h.Reject(rec, httptest.NewRequest("GET", "/api/messaging/sessions", nil), http.StatusUnauthorized, models.ErrUnauthenticated("Missing credentials"))
	want = `{"success":false,"error":{"code":"UNAUTHENTICATED","message":"Missing credentials"}}` + "\n"
	if rec.Code != http.StatusUnauthorized || rec.Body.String() != want {
		t.Errorf("reject: %d %s, want %s", rec.Code, rec.Body, want)
	}
}
