package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

const crossOriginKey = "cross-origin-test-key"

// withKey sends one request with the API key and returns the answer.
func (s *server) withKey(t *testing.T, method, path string, body any, header ...string) response {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(context.Background(), method, s.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-KEY", crossOriginKey)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// keyedSession registers an agent and opens a session with the API key.
func (s *server) keyedSession(t *testing.T) (agentID, sessionID string) {
	t.Helper()
	var agent struct {
		Data struct{ CreateAgent struct{ ID string } }
	}
	res := s.withKey(t, http.MethodPost, "/query", map[string]any{"query": `mutation { createAgent(input: {name: "Eliza"}) { id } }`})
	if err := json.Unmarshal(res.Body, &agent); err != nil || agent.Data.CreateAgent.ID == "" {
		t.Fatalf("createAgent: %d %s", res.Status, res.Body)
	}
	res = s.withKey(t, http.MethodPost, "/api/messaging/sessions", map[string]any{"agentId": agent.Data.CreateAgent.ID, "userId": userID})
	var session struct{ SessionID string }
	if err := json.Unmarshal(res.Body, &session); err != nil || session.SessionID == "" {
		t.Fatalf("create session: %d %s", res.Status, res.Body)
	}
	return agent.Data.CreateAgent.ID, session.SessionID
}

// messageContents lists a session's stored messages, newest first.
func (s *server) messageContents(t *testing.T, sessionID string) []string {
	t.Helper()
	res := s.withKey(t, http.MethodPost, "/query", map[string]any{
		"query":     `query($id: ID!) { session(id: $id) { messages(first: 50) { nodes { content } } } }`,
		"variables": map[string]any{"id": sessionID},
	})
	var out struct {
		Data struct {
			Session struct {
				Messages struct{ Nodes []struct{ Content string } }
			}
		}
	}
	if err := json.Unmarshal(res.Body, &out); err != nil {
		t.Fatalf("messages: %s", res.Body)
	}
	var contents []string
	for _, n := range out.Data.Session.Messages.Nodes {
		contents = append(contents, n.Content)
	}
	return contents
}

// pageServer serves the cross-origin test page and the graphql-ws and
// graphql-sse browser builds from another loopback port.
func pageServer(t *testing.T, clients string) *httptest.Server {
	t.Helper()
	files := map[string]string{
		"/page.js":           repoPath("e2e", "testdata", "crossorigin", "page.js"),
		"/graphql-ws.min.js": filepath.Join(clients, "node_modules", "graphql-ws", "umd", "graphql-ws.min.js"),
		"/graphql-sse.js":    filepath.Join(clients, "node_modules", "graphql-sse", "umd", "graphql-sse.min.js"),
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Scripts only from the page's own origin; connections anywhere on loopback.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src http://127.0.0.1:* ws://127.0.0.1:*")
		if r.URL.Path == "/" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, `<!doctype html><html><head><meta charset="utf-8"><title>app</title>
<script src="/graphql-ws.min.js"></script><script src="/graphql-sse.js"></script><script src="/page.js"></script>
</head><body>app on another origin</body></html>`)
			return
		}
		file, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		b, err := os.ReadFile(file)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(b)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// pageReport is what the page saw.
type pageReport struct {
	Done                  bool
	Query, Mutation, Rest *struct {
		Status    int
		RequestID string
		Body      json.RawMessage
		Error     string
	}
	WS, SSE                 []json.RawMessage
	WSError, SSEError       string
	WSComplete, SSEComplete bool
}

func (tb *tab) report() pageReport {
	raw := tb.poll(time.Second, `JSON.stringify(window.report)`)
	var r pageReport
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		tb.b.fatalf("page report %q: %v", raw, err)
	}
	return r
}

// TestCrossOriginInChromium runs a web app served from another loopback
// port in headless Chromium. With its origin in CORS_ALLOWED_ORIGINS, a
// query and sendSessionMessage (with Apollo Client's headers and an API
// key), a REST send (Idempotency-Key, X-Request-ID read back) and two
// subscriptions (graphql-ws over WebSocket, graphql-sse over Server-Sent
// Events) all work. Against a server that does not list it, each is blocked
// and nothing is written.
func TestCrossOriginInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	clients := webClients(t)
	page := pageServer(t, clients)
	b := startBrowser(t, chromium, page.URL)

	{ // allowed
		srv := startServer(t, testutil.DatabaseURL(t, store.SQLite), "AUTH_API_KEYS="+crossOriginKey, "CORS_ALLOWED_ORIGINS="+page.URL)
		_, sessionID := srv.keyedSession(t)
		app := b.newTab("allowed")
		app.open(page.URL + "/")
		app.waitFor("the page's script", `typeof window.start === "function" && typeof graphqlWs === "object" && typeof graphqlSse === "object" ? "ready" : ""`)
		app.run(fmt.Sprintf(`start(%q, %q, %q)`, srv.URL, crossOriginKey, sessionID))
		app.waitFor("the page to run its requests", `window.report.done ? "done" : ""`)
		r := app.report()
		for name, res := range map[string]*struct {
			Status    int
			RequestID string
			Body      json.RawMessage
			Error     string
		}{"query": r.Query, "mutation": r.Mutation, "rest": r.Rest} {
			want := map[string]int{"query": 200, "mutation": 200, "rest": 201}[name]
			if res == nil || res.Error != "" || res.Status != want || res.RequestID != "browser-"+name+"-1" || strings.Contains(string(res.Body), `"errors"`) {
				b.fatalf("%s from the other origin: %+v (body %s)", name, res, res.Body)
			}
		}
		// Both subscriptions receive an agent's message (sent from Go until
		// both have registered and heard it).
		heard := func(events []json.RawMessage, content string) bool {
			for _, e := range events {
				if strings.Contains(string(e), content) {
					return true
				}
			}
			return false
		}
		var last pageReport
		for i := 1; i <= 30; i++ {
			content := fmt.Sprintf("agent reply %d", i)
			if res := srv.withKey(t, http.MethodPost, "/query", map[string]any{
				"query":     `mutation($id: ID!, $c: String!) { sendAgentMessage(sessionId: $id, input: {content: $c}) { id } }`,
				"variables": map[string]any{"id": sessionID, "c": content},
			}); res.Status != 200 || strings.Contains(string(res.Body), `"errors"`) {
				t.Fatalf("sendAgentMessage: %d %s", res.Status, res.Body)
			}
			if app.poll(2*time.Second, func() string {
				last = app.report()
				if heard(last.WS, content) && heard(last.SSE, content) {
					return "yes"
				}
				return ""
			}) != "" {
				break
			}
			if last.WSError != "" || last.SSEError != "" {
				b.fatalf("subscriptions failed: WebSocket %q, SSE %q", last.WSError, last.SSEError)
			}
		}
		if !strings.Contains(joinRaw(last.WS), "agent reply") || !strings.Contains(joinRaw(last.SSE), "agent reply") {
			b.fatalf("subscriptions from the other origin received WebSocket %s, SSE %s (errors %q %q)", last.WS, last.SSE, last.WSError, last.SSEError)
		}
		stored := strings.Join(srv.messageContents(t, sessionID), "|")
		if !strings.Contains(stored, "from the browser (GraphQL)") || !strings.Contains(stored, "from the browser (REST)") {
			t.Errorf("stored messages %q lack the browser's sends", stored)
		}
		for _, m := range b.snapshot().console {
			if m.bad && strings.HasPrefix(m.text, "allowed:") {
				b.fatalf("console error on the allowed origin: %s", m.text)
			}
		}
	}

	{ // not listed
		srv := startServer(t, testutil.DatabaseURL(t, store.SQLite), "AUTH_API_KEYS="+crossOriginKey)
		_, sessionID := srv.keyedSession(t)
		app := b.newTab("blocked")
		app.open(page.URL + "/")
		app.waitFor("the page's script", `typeof window.start === "function" ? "ready" : ""`)
		app.run(fmt.Sprintf(`start(%q, %q, %q)`, srv.URL, crossOriginKey, sessionID))
		app.waitFor("the page to run its requests", `window.report.done ? "done" : ""`)
		r := app.waitForReport("both subscriptions to fail", func(r pageReport) bool { return r.WSError != "" && r.SSEError != "" })
		for name, res := range map[string]*struct {
			Status    int
			RequestID string
			Body      json.RawMessage
			Error     string
		}{"query": r.Query, "mutation": r.Mutation, "rest": r.Rest} {
			if res == nil || !strings.Contains(res.Error, "Failed to fetch") {
				b.fatalf("%s from an origin not listed: %+v, want a blocked fetch", name, res)
			}
		}
		if len(r.WS) != 0 || len(r.SSE) != 0 || r.WSComplete || r.SSEComplete {
			b.fatalf("subscriptions from an origin not listed: %+v", r)
		}
		if stored := srv.messageContents(t, sessionID); len(stored) != 0 {
			t.Errorf("a blocked origin wrote messages %q", stored)
		}
		// The WebSocket was refused by the server, not only by the browser.
		if m := srv.do(t, http.MethodGet, "/metrics", "", ""); !strings.Contains(string(m.Body), `sessionhub_http_requests_total{code="403",route="/query",transport="graphql"} 1`) {
			t.Error("the server did not refuse the WebSocket upgrade from an origin not listed (no 403 on /query)")
		}
		t.Logf("blocked: query %q, WebSocket %q, SSE %q", r.Query.Error, r.WSError, r.SSEError)
	}
}

func joinRaw(list []json.RawMessage) string {
	var b strings.Builder
	for _, m := range list {
		b.Write(m)
	}
	return b.String()
}

// run evaluates expression in the tab without waiting for a promise.
func (tb *tab) run(expression string) {
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](expression+`; "started"`)); err != nil {
		tb.b.fatalf("%s: %s: %v", tb.name, expression, err)
	}
}

// waitForReport polls the page's report until ok holds (30 s).
func (tb *tab) waitForReport(what string, ok func(pageReport) bool) pageReport {
	var r pageReport
	if tb.poll(30*time.Second, func() string {
		if r = tb.report(); ok(r) {
			return "yes"
		}
		return ""
	}) == "" {
		tb.b.fatalf("%s: timed out waiting for %s: %+v", tb.name, what, r)
	}
	return r
}

// TestCORSHeaders checks the answers browsers act on: preflights of /query,
// the REST routes and /openapi.json allow what clients send, answers expose
// X-Request-ID and Retry-After (a 429 carries the CORS headers too), and an
// origin not listed gets none.
func TestCORSHeaders(t *testing.T) {
	const origin = "http://app.example.test:3000"
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite), "CORS_ALLOWED_ORIGINS="+origin+",https://*.example.org", "RATE_LIMIT_PER_MINUTE=2")
	preflight := func(path, method, headers, from string) http.Header {
		req, _ := http.NewRequest(http.MethodOptions, srv.URL+path, nil)
		req.Header.Set("Origin", from)
		req.Header.Set("Access-Control-Request-Method", method)
		if headers != "" {
			req.Header.Set("Access-Control-Request-Headers", headers)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNoContent {
			t.Errorf("preflight %s %s: %d, want 204", method, path, res.StatusCode)
		}
		return res.Header
	}
	// Browsers send the header names lowercase and sorted (Fetch standard).
	apollo := "apollo-require-preflight,authorization,content-type,x-apollo-operation-name,x-request-id"
	for _, p := range []struct{ path, method, headers, from string }{
		{"/query", "POST", apollo, origin},
		{"/query", "POST", "content-type,x-api-key", "https://app.example.org"},
		{"/api/messaging/sessions/x/messages", "POST", "content-type,idempotency-key,x-api-key,x-request-id", origin},
		{"/api/messaging/sessions/x/timeout", "PATCH", "authorization,content-type", origin},
		{"/api/messaging/sessions/x", "DELETE", "authorization", origin},
		{"/openapi.json", "GET", "x-request-id", origin},
	} {
		h := preflight(p.path, p.method, p.headers, p.from)
		if h.Get("Access-Control-Allow-Origin") != p.from || !strings.Contains(h.Get("Access-Control-Allow-Methods"), p.method) ||
			h.Get("Access-Control-Allow-Headers") != p.headers || h.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight %s %s from %s: %v", p.method, p.path, p.from, h)
		}
	}
	if h := preflight("/query", "POST", "content-type", "http://evil.example.test"); h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("an origin not listed was allowed: %v", h)
	}
	if h := preflight("/query", "POST", "x-unknown-header", origin); h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a header not allowed passed the preflight: %v", h)
	}

	get := func(path string) response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Origin", origin)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return response{Status: res.StatusCode, Header: res.Header, Body: b}
	}
	for i := 0; ; i++ {
		res := get("/api/messaging/sessions")
		if res.Header.Get("Access-Control-Allow-Origin") != origin || res.Header.Get("Access-Control-Expose-Headers") != "X-Request-Id, Retry-After" {
			t.Fatalf("answer %d: %v", res.Status, res.Header)
		}
		if res.Status == http.StatusTooManyRequests {
			if res.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			break
		}
		if i > 5 {
			t.Fatal("the rate limit never answered 429")
		}
	}
	if res := get("/openapi.json"); res.Status != 200 || res.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("/openapi.json: %d %v", res.Status, res.Header)
	}
	if res := get("/healthz"); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("/healthz answers cross-origin: %v", res.Header)
	}
}
