package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// wsClient speaks graphql-transport-ws, as the graphql-ws npm package does.
// A goroutine reads all the time (answering pings), because a read that
// times out closes a coder/websocket connection.
type wsClient struct {
	conn     *websocket.Conn
	messages chan wsMessage
	readErr  error // set before messages closes
}

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// dialWS connects and completes connection_init with payload; it returns the
// error the server closed the connection with, if it refused.
func dialWS(t *testing.T, srv *server, initPayload map[string]any) (*wsClient, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/query"
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	conn.SetReadLimit(1 << 20)
	c := &wsClient{conn: conn}
	t.Cleanup(func() { _ = conn.CloseNow() })
	payload, _ := json.Marshal(initPayload)
	if err := wsjson.Write(ctx, conn, wsMessage{Type: "connection_init", Payload: payload}); err != nil {
		t.Fatal(err)
	}
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, conn, &m); err != nil {
			return nil, err
		}
		if m.Type == "connection_ack" {
			break
		}
	}
	c.messages = make(chan wsMessage, 4096)
	go c.read()
	return c, nil
}

func (c *wsClient) read() {
	defer close(c.messages)
	for {
		var m wsMessage
		if err := wsjson.Read(context.Background(), c.conn, &m); err != nil {
			c.readErr = err
			return
		}
		switch m.Type {
		case "ping":
			_ = wsjson.Write(context.Background(), c.conn, wsMessage{Type: "pong"})
		case "pong", "ka":
		default:
			c.messages <- m
		}
	}
}

func (c *wsClient) subscribe(t *testing.T, id, query string, vars map[string]any) {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err := wsjson.Write(context.Background(), c.conn, wsMessage{ID: id, Type: "subscribe", Payload: payload}); err != nil {
		t.Fatal(err)
	}
}

// errNoMessage: nothing arrived within the timeout.
var errNoMessage = fmt.Errorf("no message")

// next returns the next message, the error that ended the connection, or
// errNoMessage after timeout.
func (c *wsClient) next(t *testing.T, timeout time.Duration) (wsMessage, error) {
	t.Helper()
	select {
	case m, ok := <-c.messages:
		if !ok {
			return m, c.readErr
		}
		return m, nil
	case <-time.After(timeout):
		return wsMessage{}, errNoMessage
	}
}

// event is the subscription payload the tests read.
type event struct {
	Data struct {
		SessionEvents struct {
			Typename   string `json:"__typename"`
			SessionID  string
			OccurredAt string
			Message    *struct{ ID, Content string }
			ExpiresAt  string
		}
	}
	Errors []struct {
		Message    string
		Extensions struct{ Code string }
	}
}

func (c *wsClient) nextEvent(t *testing.T, timeout time.Duration) (event, error) {
	t.Helper()
	m, err := c.next(t, timeout)
	if err != nil {
		return event{}, err
	}
	if m.Type != "next" {
		return event{}, fmt.Errorf("message %s %s", m.Type, m.Payload)
	}
	var e event
	err = json.Unmarshal(m.Payload, &e)
	return e, err
}

const eventsQuery = `subscription($id: ID!) {
	sessionEvents(sessionId: $id) {
		__typename sessionId occurredAt
		... on MessageAddedEvent { message { id content } }
		... on SessionNearExpirationEvent { expiresAt }
		... on SessionExpiredEvent { expiresAt }
	}
}`

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func wsjsonWrite(conn *websocket.Conn, m wsMessage) error {
	return wsjson.Write(context.Background(), conn, m)
}
