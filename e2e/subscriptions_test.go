package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

// waitSubscribed sends probe messages through via until sub sees one, so the
// subscription is known to be registered; it returns how many probes it sent.
func waitSubscribed(t *testing.T, sub *wsClient, via *server, sessionID string) {
	t.Helper()
	for attempt := range 50 {
		via.postJSON(t, "/api/messaging/sessions/"+sessionID+"/messages", map[string]any{"content": fmt.Sprintf("probe %d", attempt)})
		if e, err := sub.nextEvent(t, 200*time.Millisecond); err == nil && e.Data.SessionEvents.Typename == "MessageAddedEvent" {
			// drain what the other probes produced
			for {
				if _, err := sub.nextEvent(t, 300*time.Millisecond); err != nil {
					return
				}
			}
		}
	}
	t.Fatal("subscription never received a probe")
}

// TestCrossReplicaDelivery subscribes on one replica and sends through the
// other: every message arrives, once, in order, and the delivery latency is
// measured over 1000 events.
func TestCrossReplicaDelivery(t *testing.T) {
	dbURL := testutil.DatabaseURL(t, store.Postgres)
	a := startServer(t, dbURL, "RATE_LIMIT_PER_MINUTE=0")
	b := startServer(t, dbURL, "RATE_LIMIT_PER_MINUTE=0")
	sessionID := b.createSession(t, b.createAgent(t), userID)
	sub, err := dialWS(t, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	sub.subscribe(t, "1", eventsQuery, map[string]any{"id": sessionID})
	waitSubscribed(t, sub, b, sessionID)

	const n = 1000
	sentAt := make([]time.Time, n)
	var mu sync.Mutex
	var latencies []time.Duration
	var order []int
	received := make(chan error, 1)
	go func() {
		for len(order) < n {
			e, err := sub.nextEvent(t, 10*time.Second)
			if err != nil {
				received <- err
				return
			}
			if e.Data.SessionEvents.Typename != "MessageAddedEvent" {
				continue
			}
			arrived := time.Now()
			var i int
			if _, err := fmt.Sscanf(e.Data.SessionEvents.Message.Content, "m%d", &i); err != nil || i < 0 || i >= n {
				received <- fmt.Errorf("unexpected message %q", e.Data.SessionEvents.Message.Content)
				return
			}
			mu.Lock()
			latencies = append(latencies, arrived.Sub(sentAt[i]))
			order = append(order, i)
			mu.Unlock()
		}
		received <- nil
	}()
	for i := range n {
		mu.Lock()
		sentAt[i] = time.Now()
		mu.Unlock()
		if res := b.postJSON(t, "/api/messaging/sessions/"+sessionID+"/messages", map[string]any{"content": fmt.Sprintf("m%d", i)}); res.Status != http.StatusCreated {
			t.Fatalf("send %d: %d %s", i, res.Status, res.Body)
		}
	}
	if err := <-received; err != nil {
		t.Fatalf("after %d of %d events: %v", len(order), n, err)
	}
	if !slices.IsSorted(order) || len(order) != n {
		t.Errorf("events arrived out of order or repeated (%d events)", len(order))
	}
	slices.Sort(latencies)
	median, p99 := latencies[n/2], latencies[n*99/100]
	t.Logf("cross-replica delivery of %d events (send request start on replica B → event on replica A): median %s, p99 %s, max %s",
		n, median.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), latencies[n-1].Round(10*time.Microsecond))

	// A message too large for a NOTIFY payload travels by id and is fetched.
	big := strings.Repeat("😀", 4000)
	if res := b.postJSON(t, "/api/messaging/sessions/"+sessionID+"/messages", map[string]any{"content": big, "metadata": map[string]any{"pad": strings.Repeat("x", 9000)}}); res.Status != http.StatusCreated {
		t.Fatalf("large send: %d %s", res.Status, res.Body)
	}
	for {
		e, err := sub.nextEvent(t, 30*time.Second)
		if err != nil {
			t.Fatalf("the large message never arrived: %v", err)
		}
		if e.Data.SessionEvents.Typename == "MessageAddedEvent" {
			if e.Data.SessionEvents.Message.Content != big {
				t.Errorf("large message arrived with %d bytes of content, want %d", len(e.Data.SessionEvents.Message.Content), len(big))
			}
			break
		}
	}
}

// TestLifetimeEventsOncePerReplicaSet lets a session expire for real with two
// replicas announcing lifetimes: subscribers on both hear the warning and
// the expiry exactly once.
func TestLifetimeEventsOncePerReplicaSet(t *testing.T) {
	dbURL := testutil.DatabaseURL(t, store.Postgres)
	replicas := []*server{startServer(t, dbURL), startServer(t, dbURL)}
	sessionID := replicas[0].createSession(t, replicas[0].createAgent(t), userID)
	subs := make([]*wsClient, len(replicas))
	for i, srv := range replicas {
		sub, err := dialWS(t, srv, nil)
		if err != nil {
			t.Fatal(err)
		}
		sub.subscribe(t, "1", eventsQuery, map[string]any{"id": sessionID})
		waitSubscribed(t, sub, replicas[1-i], sessionID)
		subs[i] = sub
	}
	expectLifetimeNoticesOnce(t, dbURL, sessionID, subs)
}

// expectLifetimeNoticesOnce gives the session a short real lifetime (it
// expires in two seconds, well inside its warning window) and checks that
// each subscriber hears the near-expiration warning and the expiry exactly
// once, in that order.
func expectLifetimeNoticesOnce(t *testing.T, dbURL, sessionID string, subs []*wsClient) {
	t.Helper()
	expiresAt := time.Now().UTC().Add(2 * time.Second).Truncate(time.Millisecond)
	if err := openDatabase(t, dbURL).DB().Exec("UPDATE sessions SET expires_at = ? WHERE id = ?", expiresAt, sessionID).Error; err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i, sub := range subs {
		wg.Go(func() {
			// Both notices, however slowly the machine runs the claim loop
			// (probe messages from the set-up may trail in); then a quiet
			// spell, in which a second copy of either would show.
			var kinds []string
			expired := false
			for deadline := time.Now().Add(60 * time.Second); ; {
				wait := time.Until(deadline)
				if expired {
					wait = 2 * time.Second
				}
				e, err := sub.nextEvent(t, wait)
				if err != nil {
					break
				}
				if kind := e.Data.SessionEvents.Typename; strings.HasPrefix(kind, "SessionNear") || strings.HasPrefix(kind, "SessionExpired") {
					kinds = append(kinds, kind)
					expired = expired || kind == "SessionExpiredEvent"
				}
			}
			if want := []string{"SessionNearExpirationEvent", "SessionExpiredEvent"}; !slices.Equal(kinds, want) {
				t.Errorf("subscriber on replica %d heard %v, want %v", i, kinds, want)
			}
		})
	}
	wg.Wait()
}

func TestWebSocketAuthentication(t *testing.T) {
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite), "AUTH_API_KEYS="+testAPIKey, "AUTH_JWT_HS256_SECRET="+testJWTSecret)
	alice, bob := uuid.New(), uuid.New()
	agentID := func() string {
		res := srv.as(t, testAPIKey, "POST", "/query", graphqlBody(`mutation { createAgent(input: {name: "a"}) { id } }`, nil))
		var out struct {
			Data struct{ CreateAgent struct{ ID string } }
		}
		_ = jsonUnmarshal(res.Body, &out)
		return out.Data.CreateAgent.ID
	}()
	open := func(user uuid.UUID) string {
		res := srv.as(t, token(t, "user", user), "POST", "/api/messaging/sessions", `{"agentId":"`+agentID+`"}`)
		var out struct{ SessionID string }
		_ = jsonUnmarshal(res.Body, &out)
		return out.SessionID
	}
	aliceSession, bobSession := open(alice), open(bob)

	for name, payload := range map[string]map[string]any{
		"no credentials": nil,
		"bad token":      {"Authorization": "Bearer not-a-token"},
		"bad key":        {"X-API-KEY": "wrong"},
	} {
		_, err := dialWS(t, srv, payload)
		if websocket.CloseStatus(err) != 4403 {
			t.Errorf("%s: %v, want the connection closed with 4403", name, err)
		}
	}

	sub, err := dialWS(t, srv, map[string]any{"Authorization": "Bearer " + token(t, "user", alice)})
	if err != nil {
		t.Fatal(err)
	}
	sub.subscribe(t, "other", eventsQuery, map[string]any{"id": bobSession})
	if m, err := sub.next(t, 5*time.Second); err != nil || !strings.Contains(string(m.Payload), `"code":"SESSION_NOT_FOUND"`) {
		t.Errorf("subscribing to another user's session: %v %s %s, want SESSION_NOT_FOUND", err, m.Type, m.Payload)
	}
	sub.subscribe(t, "own", eventsQuery, map[string]any{"id": aliceSession})
	for attempt := 0; ; attempt++ {
		srv.as(t, token(t, "user", alice), "POST", "/api/messaging/sessions/"+aliceSession+"/messages", `{"content":"hi"}`)
		if e, err := sub.nextEvent(t, 300*time.Millisecond); err == nil && e.Data.SessionEvents.Typename == "MessageAddedEvent" {
			break
		}
		if attempt > 20 {
			t.Fatal("own session's events never arrived")
		}
	}
}

// TestShutdownClosesWebSockets: on SIGTERM open subscriptions are closed with
// a normal close code and the process still exits 0.
func TestShutdownClosesWebSockets(t *testing.T) {
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite))
	sessionID := srv.createSession(t, srv.createAgent(t), userID)
	sub, err := dialWS(t, srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	sub.subscribe(t, "1", eventsQuery, map[string]any{"id": sessionID})
	waitSubscribed(t, sub, srv, sessionID)
	stopped := make(chan error, 1)
	go func() { stopped <- srv.stop() }()
	_, err = sub.next(t, 10*time.Second)
	if status := websocket.CloseStatus(err); status != websocket.StatusNormalClosure {
		t.Errorf("subscription ended with %v (status %d), want a normal closure", err, status)
	}
	if err := <-stopped; err != nil {
		t.Errorf("exit: %v", err)
	}
}

// TestWebSocketProtocolsAndOrigins: the legacy graphql-ws subprotocol works
// too, cross-origin browsers are refused unless allowed, and a connection
// that never sends connection_init is closed.
func TestWebSocketProtocolsAndOrigins(t *testing.T) {
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite), "WS_ALLOWED_ORIGINS=app.example.com")
	sessionID := srv.createSession(t, srv.createAgent(t), userID)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/query"
	ctx := t.Context()

	t.Run("legacy graphql-ws", func(t *testing.T) {
		conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-ws"}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		if conn.Subprotocol() != "graphql-ws" {
			t.Fatalf("negotiated %q", conn.Subprotocol())
		}
		c := &wsClient{conn: conn, messages: make(chan wsMessage, 64)}
		_ = wsjsonWrite(conn, wsMessage{Type: "connection_init"})
		go c.read()
		payload := graphqlBody(eventsQuery, map[string]any{"id": sessionID})
		_ = wsjsonWrite(conn, wsMessage{ID: "1", Type: "start", Payload: []byte(payload)})
		for attempt := 0; ; attempt++ {
			srv.postJSON(t, "/api/messaging/sessions/"+sessionID+"/messages", map[string]any{"content": "legacy"})
			m, err := c.next(t, 300*time.Millisecond)
			if err == nil && m.Type == "data" && strings.Contains(string(m.Payload), "MessageAddedEvent") {
				break
			}
			if attempt > 20 {
				t.Fatalf("no data message over graphql-ws: %v %+v", err, m)
			}
		}
	})

	t.Run("origins", func(t *testing.T) {
		for origin, allowed := range map[string]bool{"https://evil.example": false, "https://app.example.com": true} {
			conn, res, err := websocket.Dial(ctx, url, &websocket.DialOptions{
				Subprotocols: []string{"graphql-transport-ws"},
				HTTPHeader:   http.Header{"Origin": {origin}},
			})
			if allowed != (err == nil) {
				status := 0
				if res != nil {
					status = res.StatusCode
				}
				t.Errorf("origin %s: err %v (HTTP %d), want allowed=%v", origin, err, status, allowed)
			}
			if conn != nil {
				conn.CloseNow()
			}
		}
	})

	t.Run("no connection_init", func(t *testing.T) {
		conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		start := time.Now()
		readCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		_, _, err = conn.Read(readCtx)
		if websocket.CloseStatus(err) == -1 && readCtx.Err() != nil {
			t.Fatalf("still open after %s without connection_init", time.Since(start))
		}
		if code := websocket.CloseStatus(err); code != 4408 {
			t.Errorf("closed with %d (%v), want 4408 (graphql-transport-ws: initialisation timeout)", code, err)
		}
	})
}
