package graph

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"sessionhub/internal/chat"
	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// pushServer serves the push transport alone, over a real service on
// SQLite, with short deadlines; it returns the URL and a live session.
func pushServer(t *testing.T) (url string, svc *chat.Service, sessionID string) {
	t.Helper()
	svc = chat.New(testutil.OpenStore(t, store.SQLite), models.SystemClock{}, models.DefaultSessionPolicy())
	srv := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{Chat: svc,
		subscriptions: newSubscriptionLimits(Options{}), subscriberDropped: func(string) {}}}))
	srv.AddTransport(pushWebsocket{
		init:         websocketInit(nil, nil),
		initTimeout:  300 * time.Millisecond,
		pingInterval: 200 * time.Millisecond,
	})
	srv.AroundOperations(withLoaders(svc))
	srv.AroundOperations(withStreamState)
	srv.AroundResponses(finalErrors)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	ctx := context.Background()
	agent, err := svc.CreateAgent(ctx, chat.CreateAgentInput{Name: "Eliza"})
	if err != nil {
		t.Fatal(err)
	}
	session, err := svc.CreateSession(ctx, chat.CreateSessionInput{AgentID: agent.ID.String(), UserID: testutil.MustUUID()})
	if err != nil {
		t.Fatal(err)
	}
	return "ws" + strings.TrimPrefix(ts.URL, "http"), svc, session.ID.String()
}

func dialPush(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	conn, _, err := websocket.Dial(context.Background(), url, &websocket.DialOptions{Subprotocols: []string{graphqlTransportWS}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	return conn
}

func send(t *testing.T, conn *websocket.Conn, m wsFrame) {
	t.Helper()
	if err := wsjson.Write(context.Background(), conn, m); err != nil {
		t.Fatal(err)
	}
}

// receive returns the next message other than a ping, or the close status.
func receive(t *testing.T, conn *websocket.Conn) (wsFrame, websocket.StatusCode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		var m wsFrame
		err := wsjson.Read(ctx, conn, &m)
		if err != nil {
			status := websocket.CloseStatus(err)
			if status == -1 {
				t.Fatalf("read: %v", err)
			}
			return m, status
		}
		if m.Type != "ping" {
			return m, -1
		}
	}
}

func initialized(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	conn := dialPush(t, url)
	send(t, conn, wsFrame{Type: "connection_init"})
	if m, _ := receive(t, conn); m.Type != "connection_ack" {
		t.Fatalf("connection_init answered %+v", m)
	}
	return conn
}

func subscribeMessage(id, sessionID string) wsFrame {
	payload, _ := json.Marshal(map[string]any{
		"query":     `subscription($id: ID!) { sessionEvents(sessionId: $id) { __typename ... on MessageAddedEvent { message { content } } } }`,
		"variables": map[string]any{"id": sessionID},
	})
	return wsFrame{ID: id, Type: "subscribe", Payload: payload}
}

// TestPushTransportCloseCodes: the graphql-transport-ws rules a client
// library relies on.
func TestPushTransportCloseCodes(t *testing.T) {
	url, _, sessionID := pushServer(t)
	cases := []struct {
		name string
		run  func(conn *websocket.Conn)
		want websocket.StatusCode
	}{
		{"no connection_init in time", func(*websocket.Conn) {}, closeInitTimeout},
		{"subscribe before connection_init", func(c *websocket.Conn) { send(t, c, subscribeMessage("1", sessionID)) }, closeUnauthorized},
		{"a second connection_init", func(c *websocket.Conn) {
			send(t, c, wsFrame{Type: "connection_init"})
			receive(t, c)
			send(t, c, wsFrame{Type: "connection_init"})
		}, closeTooManyInitRequest},
		{"an unknown message type", func(c *websocket.Conn) {
			send(t, c, wsFrame{Type: "connection_init"})
			receive(t, c)
			send(t, c, wsFrame{Type: "start"})
		}, closeBadRequest},
		{"an id already in use", func(c *websocket.Conn) {
			send(t, c, wsFrame{Type: "connection_init"})
			receive(t, c)
			send(t, c, subscribeMessage("1", sessionID))
			send(t, c, subscribeMessage("1", sessionID))
		}, closeSubscriberExists},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn := dialPush(t, url)
			tc.run(conn)
			for {
				m, status := receive(t, conn)
				if status != -1 {
					if status != tc.want {
						t.Fatalf("closed with %d, want %d", status, tc.want)
					}
					return
				}
				if m.Type != "connection_ack" {
					t.Fatalf("got %+v before the close", m)
				}
			}
		})
	}
}

// TestPushTransportOperations: pings both ways, a query answered with next
// and complete, a subscription's events pushed, and nothing after the
// client completes it.
func TestPushTransportOperations(t *testing.T) {
	url, svc, sessionID := pushServer(t)
	conn := initialized(t, url)

	// The server pings on its own, and answers a ping with a pong.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var m wsFrame
	if err := wsjson.Read(ctx, conn, &m); err != nil || m.Type != "ping" {
		t.Fatalf("want the server's ping, got %+v %v", m, err)
	}
	send(t, conn, wsFrame{Type: "ping"})
	if m, _ = receive(t, conn); m.Type != "pong" {
		t.Fatalf("ping answered with %+v", m)
	}

	query, _ := json.Marshal(map[string]any{"query": `query($id: ID!) { session(id: $id) { id } }`, "variables": map[string]any{"id": sessionID}})
	send(t, conn, wsFrame{ID: "q", Type: "subscribe", Payload: query})
	if m, _ = receive(t, conn); m.Type != "next" || m.ID != "q" || !strings.Contains(string(m.Payload), sessionID) {
		t.Fatalf("query answered with %+v", m)
	}
	if m, _ = receive(t, conn); m.Type != "complete" || m.ID != "q" {
		t.Fatalf("query not completed: %+v", m)
	}

	send(t, conn, subscribeMessage("s", sessionID))
	for svc.Subscribers() == 0 { // started: it hears every message from now on
		time.Sleep(5 * time.Millisecond)
	}
	for _, content := range []string{"one", "two"} {
		if _, err := svc.SendMessage(context.Background(), sessionID, models.MessageInput{Content: content}); err != nil {
			t.Fatal(err)
		}
	}
	var contents []string
	for len(contents) < 2 {
		m, status := receive(t, conn)
		if status != -1 || m.ID != "s" || m.Type != "next" {
			t.Fatalf("waiting for events: %+v (close %d)", m, status)
		}
		var result struct {
			Data struct {
				SessionEvents struct {
					Typename string `json:"__typename"`
					Message  *struct{ Content string }
				}
			}
		}
		if err := json.Unmarshal(m.Payload, &result); err != nil {
			t.Fatal(err)
		}
		if msg := result.Data.SessionEvents.Message; msg != nil {
			contents = append(contents, msg.Content)
		}
	}
	if contents[0] != "one" || contents[1] != "two" {
		t.Fatalf("events %v, want one then two", contents)
	}

	// Completed by the client: the bus forgets it, and nothing more comes.
	send(t, conn, wsFrame{ID: "s", Type: "complete"})
	for svc.Subscribers() > 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := svc.SendMessage(context.Background(), sessionID, models.MessageInput{Content: "three"}); err != nil {
		t.Fatal(err)
	}
	send(t, conn, wsFrame{Type: "ping"})
	for {
		m, _ := receive(t, conn)
		if m.Type == "pong" {
			break
		}
		if m.ID == "s" && strings.Contains(string(m.Payload), "three") {
			t.Fatalf("an event after complete: %+v", m)
		}
	}
}

// TestPushTransportRefusedSubscription: a subscription the resolver refuses
// is answered with its error and complete, and takes no place.
func TestPushTransportRefusedSubscription(t *testing.T) {
	url, svc, _ := pushServer(t)
	conn := initialized(t, url)
	send(t, conn, subscribeMessage("s", "00000000-0000-0000-0000-000000000000"))
	m, _ := receive(t, conn)
	if m.Type != "next" || !strings.Contains(string(m.Payload), "SESSION_NOT_FOUND") {
		t.Fatalf("refused subscription answered %+v", m)
	}
	if m, _ = receive(t, conn); m.Type != "complete" || m.ID != "s" {
		t.Fatalf("refused subscription not completed: %+v", m)
	}
	if n := svc.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers after a refusal", n)
	}
}

// TestPushTransportDeletionShowsTheSessionAsLastSeen: a pushed subscription
// keeps no operation state between events but the session as it last read
// it, and only when its selection asks for an event's session: the deletion
// event shows that session (it can no longer be read).
func TestPushTransportDeletionShowsTheSessionAsLastSeen(t *testing.T) {
	url, svc, sessionID := pushServer(t)
	conn := initialized(t, url)
	operations := map[string]string{
		// Every event reads the session; the deletion shows the last read.
		"interface": `subscription($id: ID!) { sessionEvents(sessionId: $id) { __typename session { id renewalCount } } }`,
		// Only the deletion asks for it, through a fragment: the session as
		// it was when the subscription started.
		"fragment": `subscription($id: ID!) { sessionEvents(sessionId: $id) { __typename ...Gone } }
			fragment Gone on SessionDeletedEvent { session { id renewalCount } }`,
		"inline": `subscription($id: ID!) { sessionEvents(sessionId: $id) { __typename
			... on MessageAddedEvent { occurredAt } ... on SessionDeletedEvent { session { id renewalCount } } } }`,
		// Nothing asks for it: nothing is kept, and the events still come.
		"none": `subscription($id: ID!) { sessionEvents(sessionId: $id) { __typename } }`,
	}
	for id, query := range operations {
		payload, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"id": sessionID}})
		send(t, conn, wsFrame{ID: id, Type: "subscribe", Payload: payload})
	}
	for svc.Subscribers() < len(operations) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := svc.SendMessage(context.Background(), sessionID, models.MessageInput{Content: "renews"}); err != nil {
		t.Fatal(err)
	}
	type result struct {
		Data struct {
			SessionEvents struct {
				Typename string `json:"__typename"`
				Session  *struct {
					ID           string
					RenewalCount int
				}
			}
		}
		Errors []json.RawMessage
	}
	var seenAtMessage int
	deleted := map[string]result{}
	completed := map[string]bool{}
	for deletedSent := false; len(completed) < len(operations); {
		m, status := receive(t, conn)
		if status != -1 {
			t.Fatalf("closed %d while waiting for the events", status)
		}
		if m.Type == "complete" {
			completed[m.ID] = true
			continue
		}
		var r result
		if m.Type != "next" || json.Unmarshal(m.Payload, &r) != nil || len(r.Errors) > 0 {
			t.Fatalf("%s: %s %s", m.ID, m.Type, m.Payload)
		}
		switch ev := r.Data.SessionEvents; {
		case ev.Typename == "SessionDeletedEvent":
			deleted[m.ID] = r
		case m.ID == "interface" && ev.Typename == "MessageAddedEvent":
			seenAtMessage = ev.Session.RenewalCount
			if !deletedSent {
				deletedSent = true
				if err := svc.DeleteSession(context.Background(), sessionID); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if seenAtMessage == 0 {
		t.Fatal("the message did not renew the session: the test cannot tell a fresh read from the first")
	}
	if s := deleted["interface"].Data.SessionEvents.Session; s == nil || s.ID != sessionID || s.RenewalCount != seenAtMessage {
		t.Errorf("interface selection: deletion shows %+v, want the session as read at the message (renewalCount %d)", s, seenAtMessage)
	}
	if s := deleted["fragment"].Data.SessionEvents.Session; s == nil || s.ID != sessionID || s.RenewalCount != 0 {
		t.Errorf("fragment selection: deletion shows %+v, want the session as it was at the start", s)
	}
	if s := deleted["inline"].Data.SessionEvents.Session; s == nil || s.ID != sessionID || s.RenewalCount != 0 {
		t.Errorf("inline fragment: deletion shows %+v, want the session as it was at the start", s)
	}
	if ev := deleted["none"].Data.SessionEvents; ev.Typename != "SessionDeletedEvent" || ev.Session != nil {
		t.Errorf("no selection: deletion event %+v", ev)
	}
}
