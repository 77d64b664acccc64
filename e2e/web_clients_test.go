package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

// webClients is examples/web-clients with its npm packages installed.
func webClients(t *testing.T) string {
	t.Helper()
	return npmProject(t, repoPath("examples", "web-clients"), "the web clients (graphql-ws, graphql-sse, Apollo Client, urql)",
		filepath.Join("node_modules", "graphql-ws"), filepath.Join("node_modules", "graphql-sse"),
		filepath.Join("node_modules", "@apollo", "client"), filepath.Join("node_modules", "@urql", "core"))
}

// nodeScript is a running script of examples/web-clients.
type nodeScript struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *testutil.SyncBuffer
}

func startNodeScript(t *testing.T, dir string, args ...string) *nodeScript {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = dir
	s := &nodeScript{cmd: cmd, lines: make(chan string, 256), stderr: &testutil.SyncBuffer{}}
	cmd.Stderr = s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		scanner := bufio.NewScanner(stdout)
		scanner.Buffer(make([]byte, 1<<20), 1<<20)
		for scanner.Scan() {
			s.lines <- scanner.Text()
		}
		close(s.lines)
	}()
	return s
}

// output waits for the script to end and returns its stdout lines; it fails
// the test if the script failed.
func (s *nodeScript) output(t *testing.T) []string {
	t.Helper()
	var lines []string
	for line := range s.lines {
		lines = append(lines, line)
	}
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("node %s: %v\nstdout: %q\nstderr: %s", strings.Join(s.cmd.Args[1:], " "), err, lines, s.stderr.String())
	}
	return lines
}

// followWithNode runs a script that prints a session's events as JSON lines
// until a message "done", and returns the contents of the messages it saw.
// It probes until the client hears a first event (clients subscribe
// asynchronously), waits past the request timeout, then sends more.
func followWithNode(t *testing.T, srv *server, dir string, args ...string) []string {
	t.Helper()
	sessionID := args[len(args)-1]
	client := startNodeScript(t, dir, args...)
	send := func(content string) {
		if res := srv.postJSON(t, "/api/messaging/sessions/"+sessionID+"/messages", map[string]any{"content": content}); res.Status != 201 {
			t.Fatalf("send: %d %s", res.Status, res.Body)
		}
	}
	var contents []string
	read := func(line string) {
		var e struct {
			Typename string `json:"__typename"`
			Message  *struct{ Content string }
			Errors   json.RawMessage
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("client printed %q: %v", line, err)
		}
		if e.Errors != nil {
			t.Fatalf("client got errors %s", e.Errors)
		}
		if e.Message != nil {
			contents = append(contents, e.Message.Content)
		}
	}
	heard := false
	for attempt := 0; !heard; attempt++ {
		send("probe")
		select {
		case line, ok := <-client.lines:
			if !ok {
				client.output(t)
				t.Fatal("the client ended before any event")
			}
			read(line)
			heard = true
		case <-time.After(500 * time.Millisecond):
			if attempt > 60 {
				t.Fatalf("the client never received an event; stderr: %s", client.stderr.String())
			}
		}
	}
	// The stream outlives REQUEST_TIMEOUT_SECONDS=1.
	time.Sleep(2500 * time.Millisecond)
	send("after the request timeout")
	send("done")
	for _, line := range client.output(t) {
		read(line)
	}
	return contents
}

// TestGraphQLSSEClient follows a session with the graphql-sse npm client
// (Server-Sent Events, distinct-connections mode) through the real server,
// past the request timeout.
func TestGraphQLSSEClient(t *testing.T) {
	dir := webClients(t)
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite), "REQUEST_TIMEOUT_SECONDS=1")
	sessionID := srv.createSession(t, srv.createAgent(t), userID)
	contents := followWithNode(t, srv, dir, "sse.mjs", srv.URL+"/query", sessionID)
	if got := strings.Join(contents, "|"); !strings.HasSuffix(got, "after the request timeout|done") {
		t.Errorf("graphql-sse saw the messages %q", contents)
	}
}

// TestURQLClient runs a query and follows a session with urql, whose fetch
// transport takes subscriptions over Server-Sent Events.
func TestURQLClient(t *testing.T) {
	dir := webClients(t)
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite), "REQUEST_TIMEOUT_SECONDS=1")
	sessionID := srv.createSession(t, srv.createAgent(t), userID)
	client := startNodeScript(t, dir, "urql.mjs", srv.URL+"/query", sessionID)
	// The first line is the query's answer.
	select {
	case line := <-client.lines:
		if !strings.Contains(line, `"state":"ACTIVE"`) || !strings.Contains(line, sessionID) {
			t.Fatalf("urql query printed %q", line)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("urql printed nothing; stderr: %s", client.stderr.String())
	}
	// Then it subscribes: probe until it hears, then finish.
	var lines []string
	for attempt := 0; len(lines) == 0; attempt++ {
		srv.postJSON(t, "/api/messaging/sessions/"+sessionID+"/messages", map[string]any{"content": "probe"})
		select {
		case line := <-client.lines:
			lines = append(lines, line)
		case <-time.After(500 * time.Millisecond):
			if attempt > 60 {
				t.Fatalf("urql never received an event; stderr: %s", client.stderr.String())
			}
		}
	}
	time.Sleep(2500 * time.Millisecond)
	srv.postJSON(t, "/api/messaging/sessions/"+sessionID+"/messages", map[string]any{"content": "done"})
	lines = append(lines, client.output(t)...)
	if last := lines[len(lines)-1]; !strings.Contains(last, `"content":"done"`) {
		t.Errorf("urql saw %q", lines)
	}
}

// TestGraphQLWSKeepAlive counts pings: the graphql-ws npm client
// (graphql-transport-ws) receives "ping" messages and the legacy graphql-ws
// protocol "ka" messages, every SUBSCRIPTION_KEEPALIVE_SECONDS (1 here; 10 by
// default), while a subscription is idle.
func TestGraphQLWSKeepAlive(t *testing.T) {
	t.Parallel() // six seconds of waiting for pings
	dir := webClients(t)
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite), "SUBSCRIPTION_KEEPALIVE_SECONDS=1")
	sessionID := srv.createSession(t, srv.createAgent(t), userID)

	lines := startNodeScript(t, dir, "pings.mjs", "ws"+strings.TrimPrefix(srv.URL, "http")+"/query", sessionID, "6").output(t)
	var counted struct{ Pings, Pongs int }
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &counted) != nil {
		t.Fatalf("pings.mjs printed %q", lines)
	}
	// Six seconds at one ping a second; a busy machine may delay a few.
	if counted.Pings < 2 || counted.Pongs < counted.Pings {
		t.Errorf("graphql-ws received %d pings (answered %d) in 6 s at a 1 s interval", counted.Pings, counted.Pongs)
	}
	t.Logf("graphql-transport-ws: %d pings in 6 s", counted.Pings)

	// The legacy protocol: "ka" after connection_ack, and again while idle.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/query",
		&websocket.DialOptions{Subprotocols: []string{"graphql-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if err := wsjson.Write(ctx, conn, wsMessage{Type: "connection_init"}); err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{"query": eventsQuery, "variables": map[string]any{"id": sessionID}})
	if err := wsjson.Write(ctx, conn, wsMessage{ID: "1", Type: "start", Payload: payload}); err != nil {
		t.Fatal(err)
	}
	kas := 0
	for kas < 3 {
		var m wsMessage
		if err := wsjson.Read(ctx, conn, &m); err != nil {
			t.Fatalf("after %d ka messages: %v", kas, err)
		}
		switch m.Type {
		case "ka":
			kas++
		case "connection_ack":
		default:
			t.Fatalf("unexpected %s %s on an idle subscription", m.Type, m.Payload)
		}
	}
}

// TestApolloClientErrorsAndBatches runs Apollo Client 4: a document error
// over HttpLink reaches the caller as GraphQL errors (Apollo asks for
// application/graphql-response+json and gets 400), and each operation of a
// BatchHttpLink batch is refused with BAD_REQUEST naming the limit, without
// the variables coming back.
func TestApolloClientErrorsAndBatches(t *testing.T) {
	dir := webClients(t)
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite))
	lines := startNodeScript(t, dir, "apollo.mjs", srv.URL+"/query").output(t)
	if len(lines) != 1 {
		t.Fatalf("apollo.mjs printed %q", lines)
	}
	type reported struct {
		Kind   string
		Errors []struct {
			Message    string
			Path       []any
			Extensions struct {
				Code    string
				Details map[string]any
			}
		}
	}
	var out struct {
		DocumentError reported
		Query         map[string]any
		Batch         []reported
	}
	if err := json.Unmarshal([]byte(lines[0]), &out); err != nil {
		t.Fatal(err)
	}
	if e := out.DocumentError; e.Kind != "CombinedGraphQLErrors" || len(e.Errors) != 1 || e.Errors[0].Extensions.Code != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("document error reported as %+v", e)
	}
	if out.Query["__typename"] != "Query" {
		t.Errorf("query answered %v", out.Query)
	}
	if len(out.Batch) != 2 {
		t.Fatalf("batch reported %+v", out.Batch)
	}
	for _, b := range out.Batch {
		if b.Kind != "CombinedGraphQLErrors" || len(b.Errors) != 1 || b.Errors[0].Extensions.Code != "BAD_REQUEST" ||
			b.Errors[0].Extensions.Details["maxOperations"] != float64(1) || !strings.Contains(b.Errors[0].Message, "at most 1 operation") {
			t.Errorf("batched operation reported as %+v", b)
		}
	}
	if bytes.Contains([]byte(lines[0]), []byte("secret-variable-value")) {
		t.Error("the batch refusal echoed a variable")
	}
}

// TestSSEStreamEndsAtShutdown: SIGTERM ends an open Server-Sent Events
// stream without "complete" (so graphql-sse reconnects elsewhere), and the
// stream does not hold the shutdown: the server exits 0 at once.
func TestSSEStreamEndsAtShutdown(t *testing.T) {
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite), "SHUTDOWN_TIMEOUT_SECONDS=600")
	sessionID := srv.createSession(t, srv.createAgent(t), userID)
	body, _ := json.Marshal(map[string]any{"query": eventsQuery, "variables": map[string]any{"id": sessionID}})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("answered %d %v", res.StatusCode, res.Header)
	}
	stream := make(chan string)
	go func() {
		scanner := bufio.NewScanner(res.Body)
		for scanner.Scan() {
			stream <- scanner.Text()
		}
		close(stream)
	}()
	// Probe until the subscription delivers, so it is surely registered.
	for heard, attempt := false, 0; !heard; attempt++ {
		if attempt > 60 {
			t.Fatal("no event over SSE")
		}
		srv.postJSON(t, "/api/messaging/sessions/"+sessionID+"/messages", map[string]any{"content": "probe"})
		timeout := time.After(500 * time.Millisecond)
	wait:
		for {
			select {
			case line := <-stream:
				if strings.HasPrefix(line, "event: next") {
					heard = true
					break wait
				}
			case <-timeout:
				break wait
			}
		}
	}
	// With a 10-minute shutdown timeout, a stream that held the shutdown
	// would make stop() give up after 30 s.
	stopped := make(chan error, 1)
	go func() { stopped <- srv.stop() }()
	for line := range stream {
		if line == "event: complete" {
			t.Error("the stream completed at shutdown; graphql-sse would not reconnect")
		}
	}
	if err := <-stopped; err != nil {
		t.Fatalf("exit: %v\n%s", err, srv.stderr.String())
	}
}
