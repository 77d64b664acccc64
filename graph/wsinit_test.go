package graph_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"sessionhub/graph"
	"sessionhub/internal/store"
)

// TestWebSocketInitTimeout: a connection that sends no connection_init
// within the init timeout is closed with 4408 "Connection initialisation
// timeout" (graphql-transport-ws; the legacy protocol gets the same code),
// while one that sent it in time stays open past that deadline.
func TestWebSocketInitTimeout(t *testing.T) {
	const initTimeout = 300 * time.Millisecond
	env := newHubEnv(t, store.SQLite, graph.Options{InitTimeout: initTimeout})
	srv := httptest.NewServer(env.handler)
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for _, protocol := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(protocol+" silent", func(t *testing.T) {
			conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{protocol}})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.CloseNow()
			_, _, err = conn.Read(ctx)
			var closeErr websocket.CloseError
			if !errors.As(err, &closeErr) || closeErr.Code != 4408 || closeErr.Reason != "Connection initialisation timeout" {
				t.Fatalf("read: %v, want close 4408 Connection initialisation timeout", err)
			}
		})
	}

	t.Run("initialised in time stays open", func(t *testing.T) {
		conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		if err := wsjson.Write(ctx, conn, map[string]any{"type": "connection_init"}); err != nil {
			t.Fatal(err)
		}
		var ack struct{ Type string }
		if err := wsjson.Read(ctx, conn, &ack); err != nil || ack.Type != "connection_ack" {
			t.Fatalf("connection_ack: %+v %v", ack, err)
		}
		time.Sleep(3 * initTimeout) // past the init deadline
		if err := wsjson.Write(ctx, conn, map[string]any{"type": "ping"}); err != nil {
			t.Fatal(err)
		}
		var pong struct{ Type string }
		if err := wsjson.Read(ctx, conn, &pong); err != nil || pong.Type != "pong" {
			t.Fatalf("after the init deadline: %+v %v, want pong on an open connection", pong, err)
		}
	})
}
