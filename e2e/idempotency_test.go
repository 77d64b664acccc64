package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

// TestIdempotencyKeyAcrossReplicas races one Idempotency-Key through two
// server processes on one PostgreSQL database: one message, one renewal,
// every caller told the same message id.
func TestIdempotencyKeyAcrossReplicas(t *testing.T) {
	dbURL := testutil.DatabaseURL(t, store.Postgres)
	a := startServer(t, dbURL, "RATE_LIMIT_PER_MINUTE=0")
	b := startServer(t, dbURL, "RATE_LIMIT_PER_MINUTE=0")
	sessionID := a.createSession(t, a.createAgent(t), userID)
	path := "/api/messaging/sessions/" + sessionID + "/messages"

	send := func(srv *server, key, content string) response {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(`{"content":"`+content+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return response{}
		}
		defer res.Body.Close()
		var body json.RawMessage
		_ = json.NewDecoder(res.Body).Decode(&body)
		return response{Status: res.StatusCode, Body: body}
	}

	const racers = 40
	bodies := make([]response, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			// A racer that waited on the first one's key past the statement
			// timeout (a starved machine) is told 503 "retry shortly", and
			// does, as a client would: the retry must get the first answer.
			for attempt := 0; attempt < 10; attempt++ {
				if bodies[i] = send([]*server{a, b}[i%2], "order-42", "charge once"); bodies[i].Status != http.StatusServiceUnavailable {
					return
				}
			}
		})
	}
	wg.Wait()
	for i, res := range bodies {
		if res.Status != http.StatusCreated || string(res.Body) != string(bodies[0].Body) {
			t.Fatalf("racer %d: %d %s, want 201 with the first body %s", i, res.Status, res.Body, bodies[0].Body)
		}
	}
	var stored struct{ Messages, RenewalCount int }
	openDatabase(t, dbURL).DB().Raw(`SELECT renewal_count, (SELECT count(*) FROM messages WHERE session_id = sessions.id) AS messages
		FROM sessions WHERE id = ?`, sessionID).Scan(&stored)
	if stored.Messages != 1 || stored.RenewalCount != 1 {
		t.Errorf("%d messages, renewal_count %d after %d racing requests with one key; want 1 and 1", stored.Messages, stored.RenewalCount, racers)
	}
	if res := send(b, "order-42", "charge twice"); res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `"IDEMPOTENCY_CONFLICT"`) {
		t.Errorf("same key, other body: %d %s", res.Status, res.Body)
	}
}
