package graph_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"sessionhub/graph"
	"sessionhub/internal/store"
)

// postAccept posts body to /query with Accept (none when empty).
func (e *hubEnv) postAccept(accept, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec
}

type rawResponse struct {
	Data   *json.RawMessage `json:"data"`
	Errors []hubError       `json:"errors"`
}

func decodeResponse(t *testing.T, body []byte) (rawResponse, map[string]json.RawMessage) {
	t.Helper()
	var resp rawResponse
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	_ = json.Unmarshal(body, &keys)
	return resp, keys
}

// TestRequestErrorsFollowGraphQLOverHTTP: a request error (parse,
// validation, variables, limits) is 400 for a client that accepts
// application/graphql-response+json and 200 for one that accepts only
// application/json, with the matching Content-Type and no data either way.
func TestRequestErrorsFollowGraphQLOverHTTP(t *testing.T) {
	env := newHubEnv(t, store.SQLite, graph.Options{})
	s := env.liveSession(nil)
	body := func(query string, vars map[string]any) string {
		b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		return string(b)
	}
	var aliases strings.Builder
	for i := range 16 {
		aliases.WriteString(" a" + string(rune('a'+i)) + ": __typename")
	}
	requests := []struct {
		name, body, code string
	}{
		{"parse", body(`query { session(id: "x") { id `, nil), "GRAPHQL_PARSE_FAILED"},
		{"validation", body(`query($id: ID!) { session(id: $id) { nope } }`, map[string]any{"id": s.ID}), "GRAPHQL_VALIDATION_FAILED"},
		{"missing variable", body(hubSendOp, map[string]any{"in": map[string]any{"content": "x"}}), "GRAPHQL_VALIDATION_FAILED"},
		{"complexity limit", body(`{ sessions(first: 100) { nodes { messages(first: 100) { nodes { id content } } } } }`, nil), ""},
		{"alias limit", body("{"+aliases.String()+" }", nil), "VALIDATION_ERROR"},
	}

	accepts := []struct {
		accept, contentType string
		status              int
	}{
		{"", "application/json", http.StatusOK},
		{"application/json", "application/json", http.StatusOK},
		{"application/graphql-response+json", "application/graphql-response+json", http.StatusBadRequest},
		// Apollo Client 4 and urql list both, graphql-response+json first.
		{"application/graphql-response+json,application/json;q=0.9", "application/graphql-response+json", http.StatusBadRequest},
		{"application/json, application/graphql-response+json", "application/json", http.StatusOK},
	}
	for _, req := range requests {
		for _, a := range accepts {
			t.Run(req.name+"/"+a.accept, func(t *testing.T) {
				rec := env.postAccept(a.accept, req.body)
				resp, keys := decodeResponse(t, rec.Body.Bytes())
				if rec.Code != a.status || rec.Header().Get("Content-Type") != a.contentType {
					t.Errorf("status %d %q, want %d %q: %s", rec.Code, rec.Header().Get("Content-Type"), a.status, a.contentType, rec.Body)
				}
				if _, hasData := keys["data"]; hasData || len(resp.Errors) == 0 {
					t.Errorf("a request error must have errors and no data: %s", rec.Body)
				}
				if req.code != "" && resp.Errors[0].code() != req.code {
					t.Errorf("code %q, want %q", resp.Errors[0].code(), req.code)
				}
				for _, e := range resp.Errors {
					if e.code() == "" || len(e.Path) != 0 {
						t.Errorf("request error %+v: want a code and no path", e)
					}
				}
			})
		}
	}

	// GET follows the same rule.
	for _, a := range accepts[:3] {
		req := httptest.NewRequest(http.MethodGet, "/query?query="+url.QueryEscape(`{ session(id: "x") { nope } }`), nil)
		if a.accept != "" {
			req.Header.Set("Accept", a.accept)
		}
		rec := httptest.NewRecorder()
		env.handler.ServeHTTP(rec, req)
		resp, keys := decodeResponse(t, rec.Body.Bytes())
		if _, hasData := keys["data"]; rec.Code != a.status || rec.Header().Get("Content-Type") != a.contentType || hasData ||
			len(resp.Errors) != 1 || resp.Errors[0].code() != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("GET with Accept %q: %d %q %s", a.accept, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
	}

	// A well-formed request whose field fails is 200 under either media type.
	for _, accept := range []string{"application/json", "application/graphql-response+json"} {
		rec := env.postAccept(accept, body(hubSendOp, map[string]any{"id": "4b7d3a10-0000-4000-8000-000000000000", "in": map[string]any{"content": "x"}}))
		resp, _ := decodeResponse(t, rec.Body.Bytes())
		if rec.Code != http.StatusOK || len(resp.Errors) != 1 || resp.Errors[0].code() != "SESSION_NOT_FOUND" {
			t.Errorf("Accept %s: field error answered %d %s", accept, rec.Code, rec.Body)
		}
	}
}

// TestVariableErrorsCarryNoResponsePath: a variable that does not coerce is
// named in the message and in extensions.variablePath, never in path (which
// names places in the response).
func TestVariableErrorsCarryNoResponsePath(t *testing.T) {
	env := newHubEnv(t, store.SQLite, graph.Options{})
	s := env.liveSession(nil)
	cases := []struct {
		name, message string
		vars          map[string]any
		variablePath  []any
	}{
		{"missing", `Variable "$id" is invalid: must be defined`,
			map[string]any{"in": map[string]any{"content": "x"}}, []any{"id"}},
		{"nested null", `Variable "$in.content" is invalid: cannot be null`,
			map[string]any{"id": s.ID, "in": map[string]any{"content": nil}}, []any{"in", "content"}},
		{"wrong type in a list", `Variable "$in.attachments[0]" is invalid: must be a AttachmentInput`,
			map[string]any{"id": s.ID, "in": map[string]any{"content": "x", "attachments": []any{"not an object"}}},
			[]any{"in", "attachments", float64(0)}},
		{"unknown field", `Variable "$in.colour" is invalid: unknown field`,
			map[string]any{"id": s.ID, "in": map[string]any{"content": "x", "colour": "red"}}, []any{"in", "colour"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, data := env.rawErrors(hubSendOp, tc.vars)
			if len(errs) != 1 || data != nil {
				t.Fatalf("errors %+v data %v, want one request error", errs, data)
			}
			e := errs[0]
			got, _ := json.Marshal(e.Extensions["variablePath"])
			want, _ := json.Marshal(tc.variablePath)
			if e.Path != nil || !strings.HasPrefix(e.Message, tc.message) || string(got) != string(want) || e.code() != "GRAPHQL_VALIDATION_FAILED" {
				t.Errorf("error %+v, want message %q, variablePath %s, no path", e, tc.message, want)
			}
		})
	}
}

// TestBatchesAndMalformedBodiesAreRefusedWithoutEcho: a JSON array (a
// batch) and a body that is not one JSON object are 400 BAD_REQUEST with a
// short message; nothing of the body comes back.
func TestBatchesAndMalformedBodiesAreRefusedWithoutEcho(t *testing.T) {
	env := newHubEnv(t, store.SQLite, graph.Options{})
	const secret = "s3cr3t-variable-value"
	op := `{"query":"query($x: ID!) { session(id: $x) { id } }","variables":{"x":"` + secret + `"}}`
	cases := []struct{ name, body, want string }{
		{"batch", "[" + op + "," + op + "]", "Batched requests are not supported: send at most 1 operation per request"},
		{"batch after whitespace", "\n  [" + op + "]", "Batched requests are not supported"},
		{"not JSON", `query { session(id: "` + secret + `") { id } }`, "The request body must be one JSON object"},
		{"a string", `"` + secret + `"`, "The request body must be one JSON object"},
		{"truncated", op[:len(op)-3], "The request body must be one JSON object"},
		{"truncated batch", "[" + op[:len(op)-3], "Batched requests are not supported"},
		{"huge batch", "[" + strings.Repeat("{},", 200) + "{}]", "Batched requests are not supported"},
	}
	// A batch of up to 100 operations gets one error result per operation,
	// as batching clients (Apollo's BatchHttpLink) expect; others one.
	results := map[string]int{"batch": 2, "batch after whitespace": 1}
	for _, tc := range cases {
		for _, accept := range []string{"", "application/graphql-response+json", "text/event-stream"} {
			t.Run(tc.name+"/"+accept, func(t *testing.T) {
				rec := env.postAccept(accept, tc.body)
				var answers []json.RawMessage
				if n := results[tc.name]; n > 0 {
					if err := json.Unmarshal(rec.Body.Bytes(), &answers); err != nil || len(answers) != n {
						t.Fatalf("answered %s, want an array of %d results", rec.Body, n)
					}
				} else {
					answers = []json.RawMessage{rec.Body.Bytes()}
				}
				for _, answer := range answers {
					resp, _ := decodeResponse(t, answer)
					if rec.Code != http.StatusBadRequest || len(resp.Errors) != 1 || resp.Errors[0].code() != graph.CodeBadRequest ||
						!strings.HasPrefix(resp.Errors[0].Message, tc.want) {
						t.Errorf("answered %d %s, want 400 BAD_REQUEST %q", rec.Code, rec.Body, tc.want)
					}
					if strings.HasPrefix(tc.want, "Batched") && resp.Errors[0].detail("maxOperations") != float64(1) {
						t.Errorf("the batch refusal does not name the limit: %s", rec.Body)
					}
				}
				if strings.Contains(rec.Body.String(), secret) || strings.Contains(rec.Body.String(), "session(id") {
					t.Errorf("the answer echoes the request: %s", rec.Body)
				}
			})
		}
	}
}

// TestSubscriptionOverPlainPOSTIsRefusedAtOnce: a subscription POSTed for a
// JSON answer gets 400 naming the transports that serve it, without waiting
// for an event; over GET any non-query is 405.
func TestSubscriptionOverPlainPOSTIsRefusedAtOnce(t *testing.T) {
	env := newHubEnv(t, store.SQLite, graph.Options{})
	s := env.liveSession(nil)
	b, _ := json.Marshal(map[string]any{"query": sessionEventsSubscription, "variables": map[string]any{"id": s.ID}})
	// Apollo Client asks for multipart/mixed for subscriptions; others for JSON.
	for _, accept := range []string{"", "application/json", "application/graphql-response+json", `multipart/mixed;boundary="graphql";subscriptionSpec=1.0,application/json`} {
		done := make(chan *httptest.ResponseRecorder, 1)
		go func() { done <- env.postAccept(accept, string(b)) }()
		var rec *httptest.ResponseRecorder
		select {
		case rec = <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("Accept %q: the subscription was held instead of refused", accept)
		}
		resp, _ := decodeResponse(t, rec.Body.Bytes())
		if rec.Code != http.StatusBadRequest || len(resp.Errors) != 1 || resp.Errors[0].code() != graph.CodeBadRequest ||
			!strings.Contains(resp.Errors[0].Message, "WebSocket") || !strings.Contains(resp.Errors[0].Message, "Server-Sent Events") {
			t.Errorf("Accept %q: answered %d %s, want 400 BAD_REQUEST naming WebSocket and Server-Sent Events", accept, rec.Code, rec.Body)
		}
	}

	for _, q := range []string{`mutation { deleteSession(sessionId: "` + s.ID + `") }`, `subscription { sessionEvents(sessionId: "` + s.ID + `") { __typename } }`} {
		req := httptest.NewRequest(http.MethodGet, "/query?query="+url.QueryEscape(q), nil)
		rec := httptest.NewRecorder()
		env.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" || !strings.Contains(rec.Body.String(), graph.CodeBadRequest) {
			t.Errorf("GET %s: %d %v %s, want 405 with Allow: POST", q, rec.Code, rec.Header(), rec.Body)
		}
	}
	var out struct{ Session struct{ ID string } }
	env.post(&out, `query($id: ID!) { session(id: $id) { id } }`, map[string]any{"id": s.ID})
	if out.Session.ID != s.ID {
		t.Error("the GET mutation ran")
	}
}

// waitForSubscribers waits until the service has n subscribers: a stream's
// headers come before its subscription is registered.
func (e *hubEnv) waitForSubscribers(n int) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for e.svc.Subscribers() < n {
		if time.Now().After(deadline) {
			e.t.Fatalf("%d subscribers after 30s, want %d", e.svc.Subscribers(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sseStream reads a text/event-stream answer event by event.
type sseStream struct {
	t      *testing.T
	res    *http.Response
	events chan sseEvent
}

type sseEvent struct{ name, data string }

func openSSE(t *testing.T, url, query string, vars map[string]any, accept string) *sseStream {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Accept", accept)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	s := &sseStream{t: t, res: res, events: make(chan sseEvent, 64)}
	go func() {
		defer close(s.events)
		defer res.Body.Close()
		scanner := bufio.NewScanner(res.Body)
		scanner.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for scanner.Scan() {
			line := scanner.Text()
			switch {
			case line == "":
				if ev.name != "" {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				if ev.name == "" {
					s.events <- sseEvent{name: "comment", data: line}
				}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data:"):
				ev.data += strings.TrimSpace(strings.TrimPrefix(line, "data:"))
			}
		}
	}()
	return s
}

// next returns the next event that is not a comment; ok is false when the
// stream ended.
func (s *sseStream) next() (sseEvent, bool) {
	s.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return ev, false
			}
			if ev.name != "comment" {
				return ev, true
			}
		case <-timeout:
			s.t.Fatal("no event within 30s")
		}
	}
}

// TestSubscriptionsOverSSE follows a session over Server-Sent Events as
// graphql-sse's distinct-connections mode does: text/event-stream, "next"
// events, "complete" (with an empty data field) after deletion; request
// errors arrive as a "next" event; the per-caller cap is the WebSocket one.
func TestSubscriptionsOverSSE(t *testing.T) {
	env := newHubEnv(t, store.SQLite, graph.Options{SubscriptionsPerCaller: 1, KeepAlive: time.Second})
	ts := httptest.NewServer(env.handler)
	t.Cleanup(ts.Close)
	s := env.liveSession(nil)

	sub := openSSE(t, ts.URL, sessionEventsSubscription, map[string]any{"id": s.ID}, "text/event-stream")
	if ct := sub.res.Header.Get("Content-Type"); sub.res.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("answered %d %q", sub.res.StatusCode, ct)
	}
	// Keep-alive comments come while nothing happens.
	pings := 0
	for pings < 2 {
		select {
		case ev := <-sub.events:
			if ev.name == "comment" && ev.data == ": ping" {
				pings++
			} else if ev.name != "comment" {
				t.Fatalf("event %+v before anything happened", ev)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no keep-alive comment within 30s")
		}
	}

	// The cap counts SSE subscriptions like WebSocket ones.
	second := openSSE(t, ts.URL, sessionEventsSubscription, map[string]any{"id": s.ID}, "text/event-stream")
	ev, ok := second.next()
	if !ok || ev.name != "next" || !strings.Contains(ev.data, `"RATE_LIMITED"`) {
		t.Fatalf("second subscription: %+v %v, want a next event with RATE_LIMITED", ev, ok)
	}
	if ev, ok := second.next(); !ok || ev.name != "complete" {
		t.Fatalf("after the refusal: %+v %v, want complete", ev, ok)
	}

	env.waitForSubscribers(1)
	env.send(s.ID, map[string]any{"content": "over SSE"})
	ev, ok = sub.next()
	if !ok || ev.name != "next" || !strings.Contains(ev.data, `"over SSE"`) {
		t.Fatalf("event %+v %v, want the message", ev, ok)
	}
	var out struct{ DeleteSession bool }
	env.post(&out, `mutation($id: ID!) { deleteSession(sessionId: $id) }`, map[string]any{"id": s.ID})
	for {
		ev, ok := sub.next()
		if !ok {
			t.Fatal("the stream ended without complete")
		}
		if ev.name == "complete" {
			if ev.data != "" {
				t.Errorf("complete carries data %q", ev.data)
			}
			break
		}
		if ev.name != "next" {
			t.Fatalf("event %+v", ev)
		}
	}

	// A request error is a next event inside an accepted stream.
	bad := openSSE(t, ts.URL, `subscription { sessionEvents { __typename } }`, nil, "text/event-stream")
	if ev, ok := bad.next(); bad.res.StatusCode != http.StatusOK || !ok || ev.name != "next" || !strings.Contains(ev.data, "GRAPHQL_VALIDATION_FAILED") {
		t.Errorf("invalid subscription: %d %+v", bad.res.StatusCode, ev)
	}
	// A query works too; urql's Accept for queries (JSON first) gets JSON.
	q := openSSE(t, ts.URL, `{ __typename }`, nil, "text/event-stream")
	if ev, ok := q.next(); !ok || ev.data != `{"data":{"__typename":"Query"}}` {
		t.Errorf("query over SSE: %+v", ev)
	}
	urqlAccept := "application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed"
	if rec := env.postAccept(urqlAccept, `{"query":"{ __typename }"}`); rec.Header().Get("Content-Type") != "application/graphql-response+json" {
		t.Errorf("urql's query Accept got %q", rec.Header().Get("Content-Type"))
	}
}

// TestSSEStreamsEndWithoutCompleteAtShutdown: when the server shuts down, an
// SSE stream ends without "complete", so that graphql-sse reconnects.
func TestSSEStreamsEndWithoutCompleteAtShutdown(t *testing.T) {
	shutdown := make(chan struct{})
	env := newHubEnv(t, store.SQLite, graph.Options{Shutdown: shutdown})
	ts := httptest.NewServer(env.handler)
	t.Cleanup(ts.Close)
	s := env.liveSession(nil)
	sub := openSSE(t, ts.URL, sessionEventsSubscription, map[string]any{"id": s.ID}, "text/event-stream")
	env.waitForSubscribers(1)
	env.send(s.ID, map[string]any{"content": "before shutdown"})
	if ev, ok := sub.next(); !ok || ev.name != "next" {
		t.Fatalf("event %+v", ev)
	}
	close(shutdown)
	for {
		ev, ok := sub.next()
		if !ok {
			return
		}
		if ev.name == "complete" {
			t.Fatal("the stream completed at shutdown; clients would not reconnect")
		}
	}
}
