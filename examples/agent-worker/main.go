// Command agent-worker is an AI agent's side of sessionhub, end to end: it
// follows every session of its agent through one feed (agentEvents over
// WebSocket, with the genqlient client in ../../client) and answers each
// user message with sendAgentMessage.
//
// It keeps the cursor of the last event it handled in a file, and resumes
// after it when started again, so a worker that crashes or is redeployed
// misses nothing. Each reply carries an idempotency key derived from the
// message it answers, so an event handled twice (the worker died after
// replying but before saving the cursor) is still answered once.
//
//	SESSIONHUB_URL=http://localhost:8080 AGENT_ID=<uuid> CURSOR_FILE=cursor.txt go run ./examples/agent-worker
//
// SESSIONHUB_TOKEN, when set, is sent as a bearer token (an API key, or a
// JWT with role agent and the agent's id as subject). The worker prints one
// line per reply; it exits with an error when the feed ends, for its
// supervisor to restart it.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/Khan/genqlient/graphql"

	"sessionhub/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv("SESSIONHUB_URL"), os.Getenv("AGENT_ID"), os.Getenv("CURSOR_FILE"), os.Getenv("SESSIONHUB_TOKEN")); err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, baseURL, agentID, cursorFile, token string) error {
	if baseURL == "" || agentID == "" || cursorFile == "" {
		return errors.New("set SESSIONHUB_URL, AGENT_ID and CURSOR_FILE")
	}
	header := http.Header{}
	if token != "" {
		header.Set("Authorization", "Bearer "+token)
	}
	httpClient := &http.Client{Transport: headerTransport{header}}
	api := graphql.NewClient(baseURL+"/query", httpClient)
	ws := graphql.NewClientUsingWebSocket("ws"+strings.TrimPrefix(baseURL, "http")+"/query", &dialer{header: header})
	wsErrs, err := ws.Start(ctx)
	if err != nil {
		return fmt.Errorf("websocket: %w", err)
	}
	defer func() { _ = ws.Close() }()

	var after *string
	if saved, err := os.ReadFile(cursorFile); err == nil && len(saved) > 0 {
		cursor := strings.TrimSpace(string(saved))
		after = &cursor
	}
	events, _, err := client.AgentEvents(ctx, ws, agentID, after)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	fmt.Println("following agent", agentID)
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-wsErrs:
			return fmt.Errorf("websocket: %w", err)
		case resp, ok := <-events:
			if !ok {
				return errors.New("the feed ended")
			}
			if len(resp.Errors) > 0 {
				return fmt.Errorf("feed: %v", resp.Errors)
			}
			if resp.Data == nil {
				continue
			}
			if err := handle(ctx, api, resp.Data.AgentEvents); err != nil {
				return err
			}
			// Saved after the event was handled: a crash in between
			// hands it over again, and the idempotency key makes the
			// second reply a replay of the first.
			if err := saveCursor(cursorFile, resp.Data.AgentEvents.Cursor); err != nil {
				return err
			}
		}
	}
}

// saveCursor replaces the cursor file atomically (a new file renamed over
// the old): a worker killed mid-write leaves the previous cursor, never an
// empty file that would make it start from "now" and skip events.
func saveCursor(path, cursor string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(cursor), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// handle answers a user's message; other events need nothing here.
func handle(ctx context.Context, api graphql.Client, e client.AgentEventsAgentEventsAgentEvent) error {
	added, ok := e.Event.(*client.AgentEventsAgentEventsAgentEventEventMessageAddedEvent)
	if !ok || added.Message.IsAgent {
		return nil
	}
	key := "reply-" + added.Message.Id
	reply := "You said: " + added.Message.Content
	_, err := client.SendAgentMessage(ctx, api, added.SessionId, client.SendSessionMessageInput{Content: reply, IdempotencyKey: &key})
	if err != nil {
		if strings.Contains(err.Error(), "SESSION_EXPIRED") || strings.Contains(err.Error(), "SESSION_NOT_FOUND") {
			return nil // the session ended before the reply: nothing to answer
		}
		return fmt.Errorf("reply to %s: %w", added.Message.Id, err)
	}
	fmt.Println("replied to", added.Message.Id)
	return nil
}

// headerTransport adds the credentials to every request.
type headerTransport struct{ header http.Header }

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.header {
		r.Header[k] = v
	}
	return http.DefaultTransport.RoundTrip(r)
}

// dialer is genqlient's WebSocket dialer, adding the credentials.
type dialer struct{ header http.Header }

func (d *dialer) DialContext(ctx context.Context, url string, header http.Header) (graphql.WSConn, error) {
	header = header.Clone()
	for k, v := range d.header {
		header[k] = v
	}
	conn, err := client.DialWebSocket(ctx, url, header)
	if err != nil {
		return nil, err
	}
	return client.WSConn(conn), nil
}
