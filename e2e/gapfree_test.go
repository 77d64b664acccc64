package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

// messagesQuery follows a session's messages, from a cursor when $after is set.
const messagesQuery = `subscription($id: ID!, $after: String) {
	sessionEvents(sessionId: $id, after: $after) {
		__typename
		... on MessageAddedEvent { cursor message { id content } }
	}
}`

// messageEvent is one MessageAddedEvent as messagesQuery selects it.
type messageEvent struct {
	Cursor  string
	Message struct{ ID, Content string }
}

// follower reads a subscription's message events in the background.
type follower struct {
	mu       sync.Mutex
	messages []messageEvent
	err      error
}

func follow(t *testing.T, c *wsClient) *follower {
	f := &follower{}
	go func() {
		for {
			m, err := c.next(t, time.Hour)
			if err != nil {
				f.mu.Lock()
				f.err = err
				f.mu.Unlock()
				return
			}
			var e struct {
				Data struct {
					SessionEvents struct {
						Typename string `json:"__typename"`
						messageEvent
					}
				}
			}
			if m.Type != "next" || json.Unmarshal(m.Payload, &e) != nil {
				f.mu.Lock()
				f.err = fmt.Errorf("unexpected message %s %s", m.Type, m.Payload)
				f.mu.Unlock()
				return
			}
			if e.Data.SessionEvents.Typename == "MessageAddedEvent" {
				f.mu.Lock()
				f.messages = append(f.messages, e.Data.SessionEvents.messageEvent)
				f.mu.Unlock()
			}
		}
	}()
	return f
}

// ids returns the message ids received so far, in order.
func (f *follower) ids() ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.messages))
	for i, m := range f.messages {
		out[i] = m.Message.ID
	}
	return out, f.err
}

// waitFor waits until the follower has received exactly want, in order.
func (f *follower) waitFor(t *testing.T, want []string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := f.ids()
		if slices.Equal(got, want) {
			return
		}
		if err != nil || len(got) > len(want) || time.Now().After(deadline) {
			t.Fatalf("subscriber received %d messages (err %v), want the %d stored, in order and once each;\nfirst difference at %d",
				len(got), err, len(want), firstDifference(got, want))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func firstDifference(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// storedMessageIDs lists a session's messages in the database, oldest first.
func storedMessageIDs(t *testing.T, databaseURL, sessionID string) []string {
	t.Helper()
	db := openDatabase(t, databaseURL)
	var ids []string
	if err := db.DB().Table("messages").Where("session_id = ?", sessionID).Order("created_at, id").Pluck("id", &ids).Error; err != nil {
		t.Fatal(err)
	}
	return ids
}

// sendMessage sends over REST and reports the status and the message id.
func sendMessage(t *testing.T, srv *server, sessionID, content string) (int, string) {
	t.Helper()
	res := srv.postJSON(t, "/api/messaging/sessions/"+sessionID+"/messages", map[string]any{"content": content})
	var body struct{ ID string }
	_ = json.Unmarshal(res.Body, &body)
	return res.Status, body.ID
}

// TestSubscriptionResumesFromACursor: a client that saw message 2 and
// reconnects with its cursor gets 3..5 from the database, then live
// messages, each once — on both databases.
func TestSubscriptionResumesFromACursor(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			dbURL := testutil.DatabaseURL(t, dialect)
			srv := startServer(t, dbURL, "RATE_LIMIT_PER_MINUTE=0")
			sessionID := srv.createSession(t, srv.createAgent(t), userID)
			first, err := dialWS(t, srv, nil)
			if err != nil {
				t.Fatal(err)
			}
			first.subscribe(t, "1", messagesQuery, map[string]any{"id": sessionID})
			waitSubscribed(t, first, srv, sessionID)
			live := follow(t, first)
			var sent []string
			for i := range 5 {
				status, id := sendMessage(t, srv, sessionID, fmt.Sprintf("m%d", i))
				if status != http.StatusCreated {
					t.Fatalf("send %d: %d", i, status)
				}
				sent = append(sent, id)
			}
			live.waitFor(t, sent)
			live.mu.Lock()
			cursor := live.messages[1].Cursor
			live.mu.Unlock()

			resumed, err := dialWS(t, srv, nil)
			if err != nil {
				t.Fatal(err)
			}
			resumed.subscribe(t, "1", messagesQuery, map[string]any{"id": sessionID, "after": cursor})
			got := follow(t, resumed)
			got.waitFor(t, sent[2:])
			_, id := sendMessage(t, srv, sessionID, "live")
			got.waitFor(t, append(slices.Clone(sent[2:]), id))

			bad, err := dialWS(t, srv, nil)
			if err != nil {
				t.Fatal(err)
			}
			bad.subscribe(t, "1", messagesQuery, map[string]any{"id": sessionID, "after": "not-a-cursor"})
			m, err := bad.next(t, 10*time.Second)
			if err != nil || !strings.Contains(string(m.Payload), `"code":"VALIDATION_ERROR"`) {
				t.Errorf("a bad cursor: %s %s (%v), want an error with VALIDATION_ERROR", m.Type, m.Payload, err)
			}
		})
	}
}

// TestSubscribersMissNothingWhenTheBusReconnects: replica A's connections to
// PostgreSQL (its LISTEN among them) are cut while replica B stores 100
// messages, and nothing is sent after A's database comes back, so no later
// message reveals the gap. When A listens again it reads back what was
// committed meanwhile: its subscriber receives every stored message exactly
// once, in order.
func TestSubscribersMissNothingWhenTheBusReconnects(t *testing.T) {
	dbURL := testutil.DatabaseURL(t, store.Postgres)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testutil.NewProxy(t, u.Host)
	proxied := *u
	proxied.Host = proxy.Addr()
	a := startServer(t, proxied.String(), "RATE_LIMIT_PER_MINUTE=0")
	b := startServer(t, dbURL, "RATE_LIMIT_PER_MINUTE=0")
	sessionID := b.createSession(t, b.createAgent(t), userID)
	sub, err := dialWS(t, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	sub.subscribe(t, "1", messagesQuery, map[string]any{"id": sessionID})
	waitSubscribed(t, sub, b, sessionID)
	f := follow(t, sub)
	skip := len(storedMessageIDs(t, dbURL, sessionID)) // the probes

	for i := range 200 {
		if i == 100 {
			proxy.Cut()
		}
		if status, _ := sendMessage(t, b, sessionID, fmt.Sprintf("m%d", i)); status != http.StatusCreated {
			t.Fatalf("send %d through the replica that kept its database: %d", i, status)
		}
	}
	proxy.Restore()
	f.waitFor(t, storedMessageIDs(t, dbURL, sessionID)[skip:])
}

// TestSubscribersMissNothingAcrossADatabaseRestart: a private PostgreSQL is
// restarted while two replicas store messages and a subscriber follows on
// each. Sends during the restart fail (503), some after committing; every
// message that is stored in the end reaches both subscribers exactly once,
// in order, and every acknowledged message is among them.
func TestSubscribersMissNothingAcrossADatabaseRestart(t *testing.T) {
	cluster := testutil.StartCluster(t)
	a := startServer(t, cluster.URL(), "RATE_LIMIT_PER_MINUTE=0")
	b := startServer(t, cluster.URL(), "RATE_LIMIT_PER_MINUTE=0")
	sessionID := a.createSession(t, a.createAgent(t), userID)
	var subs []*wsClient
	for _, srv := range []*server{a, b} {
		sub, err := dialWS(t, srv, nil)
		if err != nil {
			t.Fatal(err)
		}
		sub.subscribe(t, "1", messagesQuery, map[string]any{"id": sessionID})
		waitSubscribed(t, sub, srv, sessionID)
		subs = append(subs, sub)
	}
	var followers []*follower
	for _, sub := range subs {
		for { // the other subscription's probes
			if _, err := sub.next(t, 300*time.Millisecond); err != nil {
				break
			}
		}
		followers = append(followers, follow(t, sub))
	}
	skip := len(storedMessageIDs(t, cluster.URL(), sessionID))

	ctx, stop := context.WithCancel(context.Background())
	var acknowledged []string
	var mu sync.Mutex
	var senders sync.WaitGroup
	for _, srv := range []*server{a, b} {
		senders.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				status, id := sendMessage(t, srv, sessionID, fmt.Sprintf("m%d", i))
				if status == http.StatusCreated {
					mu.Lock()
					acknowledged = append(acknowledged, id)
					mu.Unlock()
				} else if status != http.StatusServiceUnavailable {
					t.Errorf("send during a restart: %d, want 201 or 503", status)
				}
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	time.Sleep(time.Second)
	cluster.Restart()
	time.Sleep(3 * time.Second)
	stop()
	senders.Wait()

	stored := storedMessageIDs(t, cluster.URL(), sessionID)[skip:]
	for _, id := range acknowledged {
		if !slices.Contains(stored, id) {
			t.Errorf("acknowledged message %s is not stored", id)
		}
	}
	for i, f := range followers {
		t.Logf("subscriber %d: waiting for the %d stored messages (%d acknowledged)", i, len(stored), len(acknowledged))
		f.waitFor(t, stored)
	}
}

// TestSlowConsumerIsToldWhyItWasDropped: a client that stops reading while
// thousands of events pile up is dropped with a final SLOW_CONSUMER error
// for that subscription, not a silent close.
func TestSlowConsumerIsToldWhyItWasDropped(t *testing.T) {
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite), "RATE_LIMIT_PER_MINUTE=0")
	sessionID := srv.createSession(t, srv.createAgent(t), userID)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/query",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 24)
	if err := wsjson.Write(ctx, conn, wsMessage{Type: "connection_init"}); err != nil {
		t.Fatal(err)
	}
	var ack wsMessage
	if err := wsjson.Read(ctx, conn, &ack); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("connection_init: %v %v", ack, err)
	}
	payload, _ := json.Marshal(map[string]any{"query": messagesQuery, "variables": map[string]any{"id": sessionID}})
	if err := wsjson.Write(ctx, conn, wsMessage{ID: "1", Type: "subscribe", Payload: payload}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // let the subscription register

	// The client reads nothing while large events pile up: first in the
	// sockets' buffers, then in the server's queue for this subscriber.
	big := strings.Repeat("😀", 3980)
	var senders sync.WaitGroup
	for w := range 4 {
		senders.Go(func() {
			for i := range 700 {
				if status, _ := sendMessage(t, srv, sessionID, fmt.Sprintf("%s %d-%d", big, w, i)); status != http.StatusCreated {
					t.Errorf("send: %d", status)
					return
				}
			}
		})
	}
	senders.Wait()

	events := 0
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, conn, &m); err != nil {
			t.Fatalf("after %d events the connection ended without a final error: %v", events, err)
		}
		switch m.Type {
		case "next":
			events++
			continue
		case "ping":
			_ = wsjson.Write(ctx, conn, wsMessage{Type: "pong"})
			continue
		case "error":
			var errs []struct {
				Message    string
				Extensions struct{ Code string }
			}
			if err := json.Unmarshal(m.Payload, &errs); err != nil || len(errs) != 1 || errs[0].Extensions.Code != "SLOW_CONSUMER" {
				t.Fatalf("final error %s, want one with code SLOW_CONSUMER", m.Payload)
			}
			t.Logf("dropped after %d delivered events: %s", events, errs[0].Message)
			metrics := srv.do(t, "GET", "/metrics", "", "")
			if !strings.Contains(string(metrics.Body), `sessionhub_subscribers_dropped_total{reason="slow_consumer"} 1`+"\n") {
				t.Errorf("the drop is not counted in /metrics as sessionhub_subscribers_dropped_total{reason=\"slow_consumer\"} 1")
			}
			return
		default:
			t.Fatalf("after %d events: %s %s, want an error with code SLOW_CONSUMER", events, m.Type, m.Payload)
		}
	}
}
