package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

// TestPlaygroundInChromium opens the GraphiQL playground in headless Chromium
// against the real server, with no network but the server's: it runs a
// deep-linked sendSessionMessage mutation with GraphiQL's run button and reads
// the result pane, then runs a sessionEvents subscription in a second tab and
// watches the result pane show a message sent from Go. It also checks that
// the page loaded nothing from another origin, that the subscription went
// over a graphql-transport-ws WebSocket, and that the console stayed free of
// errors (a Content-Security-Policy violation is one).
func TestPlaygroundInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite))
	agentID := srv.createAgent(t)
	sessionID := srv.createSession(t, agentID, userID)
	b := startBrowser(t, chromium, srv.URL)
	vars := `{"sessionId": "` + sessionID + `"}`

	// The page without a link shows the example operations.
	send := b.newTab("mutation")
	send.open(srv.URL + "/")
	send.waitFor("the query editor to show the example operations", editorValue(".graphiql-query-editor", "mutation SendMessage"))
	send.waitFor("the variables editor to show the example variables", editorValue(".graphiql-editor-tool", `"userId"`))
	// A dialog injects a <style> element: the policy must let it (the
	// console would show the violation).
	send.click(`button[aria-label="Open settings dialog"]`)
	send.waitFor("the settings dialog", `(() => { const d = document.querySelector("[role=dialog]"); return d ? d.textContent : ""; })()`)
	// The dialog listens for Escape from an effect that runs after it is
	// painted, so on a busy machine the first press can come too early: a
	// user would press again, and so does the test.
	dialogClosed := `document.querySelector("[role=dialog]") ? "" : "closed"`
	for press := 1; press <= 10 && send.poll(0, dialogClosed) == ""; press++ {
		if err := chromedp.Do(send.ctx, chromedp.KeyEvent(kb.Escape)); err != nil {
			b.fatalf("closing the settings dialog: %v", err)
		}
		send.poll(3*time.Second, dialogClosed)
	}
	send.waitFor("the settings dialog to close", dialogClosed)

	// A mutation, deep-linked and run with the run button.
	send.open(playgroundLink(srv.URL, `mutation Send($sessionId: ID!) {
  sendSessionMessage(sessionId: $sessionId, input: { content: "Hello from GraphiQL" }) {
    id
    content
    sessionStatus { expiresAt renewalCount wasRenewed }
  }
}`, vars))
	send.waitFor("the query editor to hold the deep-linked mutation", editorValue(".graphiql-query-editor", "sendSessionMessage"))
	send.waitFor("the variables editor to hold the session id", editorValue(".graphiql-editor-tool", sessionID))
	send.click(".graphiql-execute-button")
	raw := send.waitFor("the result pane to show the mutation's result", editorValue(".result-window", "renewalCount"))
	var result struct {
		Data struct {
			SendSessionMessage struct {
				ID, Content   string
				SessionStatus struct {
					ExpiresAt    string
					RenewalCount int
					WasRenewed   bool
				}
			}
		}
		Errors json.RawMessage
	}
	if err := json.Unmarshal([]byte(raw), &result); err != nil || result.Errors != nil {
		b.fatalf("result pane: %v\n%s", err, raw)
	}
	sent := result.Data.SendSessionMessage
	var stored struct {
		Data struct {
			Session struct {
				ExpiresAt    string
				RenewalCount int
				Messages     struct {
					Nodes []struct{ ID, Content string }
				}
			}
		}
	}
	srv.graphql(t, `query ($id: ID!) { session(id: $id) { expiresAt renewalCount messages(first: 5) { nodes { id content } } } }`,
		map[string]any{"id": sessionID}, &stored)
	s := stored.Data.Session
	if sent.Content != "Hello from GraphiQL" || sent.SessionStatus.RenewalCount != 1 || !sent.SessionStatus.WasRenewed ||
		sent.SessionStatus.ExpiresAt != s.ExpiresAt || sent.SessionStatus.RenewalCount != s.RenewalCount ||
		len(s.Messages.Nodes) != 1 || s.Messages.Nodes[0].ID != sent.ID {
		b.fatalf("result pane shows %+v; the server has %+v", sent, s)
	}

	// A subscription in a second tab, fed by messages sent from Go.
	watch := b.newTab("subscription")
	watch.open(playgroundLink(srv.URL, `subscription Watch($sessionId: ID!) {
  sessionEvents(sessionId: $sessionId) {
    __typename
    sessionId
    ... on MessageAddedEvent { message { content isAgent } }
  }
}`, vars))
	watch.waitFor("the query editor to hold the deep-linked subscription", editorValue(".graphiql-query-editor", "sessionEvents"))
	watch.click(".graphiql-execute-button")
	watch.waitFor("the subscribe message on the WebSocket", func() string { return b.frameSent(`"subscribe"`) })
	// The server may see the subscribe message a moment after the browser
	// sent it, so a message that does not show up is sent again. An agent's
	// message does not renew the session, so its event is the last one.
	var shown string
	for i := 1; shown == "" && i <= 10; i++ {
		content := fmt.Sprintf("agent reply %d from Go", i)
		var out struct{ Errors json.RawMessage }
		srv.graphql(t, `mutation ($id: ID!, $content: String!) { sendAgentMessage(sessionId: $id, input: {content: $content}) { id } }`,
			map[string]any{"id": sessionID, "content": content}, &out)
		if out.Errors != nil {
			b.fatalf("sendAgentMessage: %s", out.Errors)
		}
		shown = watch.poll(3*time.Second, editorValue(".result-window", content))
	}
	if shown == "" {
		b.fatalf("the result pane never showed a MessageAddedEvent")
	}
	var event struct {
		Data struct {
			SessionEvents struct {
				Typename  string `json:"__typename"`
				SessionID string
				Message   struct {
					Content string
					IsAgent bool
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(shown), &event); err != nil {
		b.fatalf("result pane: %v\n%s", err, shown)
	}
	if ev := event.Data.SessionEvents; ev.Typename != "MessageAddedEvent" || ev.SessionID != sessionID || !ev.Message.IsAgent ||
		!strings.HasPrefix(ev.Message.Content, "agent reply") {
		b.fatalf("result pane shows the event %+v", ev)
	}

	// How it got there: one WebSocket to the endpoint, graphql-transport-ws,
	// and not a byte from elsewhere.
	rec := b.snapshot()
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/query"
	if len(rec.sockets) != 1 || rec.sockets[0] != wsURL {
		b.fatalf("WebSockets %q, want one to %s", rec.sockets, wsURL)
	}
	if len(rec.protocols) != 1 || rec.protocols[0] != "graphql-transport-ws" {
		b.fatalf("WebSocket subprotocols %q, want graphql-transport-ws", rec.protocols)
	}
	if !slices.ContainsFunc(rec.framesIn, func(f string) bool {
		var m struct{ Type string }
		return json.Unmarshal([]byte(f), &m) == nil && m.Type == "next"
	}) {
		b.fatalf("no next message on the WebSocket; received %q", rec.framesIn)
	}
	for _, u := range rec.requests {
		if !strings.HasPrefix(u, srv.URL+"/") && !strings.HasPrefix(u, "data:") {
			b.fatalf("the page requested %s, outside the server; all requests: %q", short(u), shortAll(rec.requests))
		}
	}
	for _, want := range []string{"/playground/graphiql.min.js", "/playground/graphql-ws.min.js", "/playground/graphiql.min.css", "/query"} {
		if !containsPrefix(rec.requests, srv.URL+want) {
			b.fatalf("the page never requested %s; requests: %q", want, shortAll(rec.requests))
		}
	}
	for _, m := range rec.console {
		if m.bad {
			b.fatalf("console errors")
		}
	}

	// GraphiQL knows the schema (introspection passed the server's limits),
	// so the documentation explorer lists the root types.
	send.click(`button[aria-label="Show Documentation Explorer"]`)
	docs := send.waitFor("the documentation explorer", `(() => {
  const el = document.querySelector(".graphiql-doc-explorer");
  const text = el ? el.textContent : "";
  return text.includes("Subscription") || text.includes("rror") ? text : "";
})()`)
	if !strings.Contains(docs, "Subscription") {
		b.fatalf("GraphiQL could not load the schema by introspection: the documentation explorer shows %q", docs)
	}
	t.Logf("%d requests, all to %s; %d WebSocket messages in, %d out; %d console messages",
		len(rec.requests), srv.URL, len(rec.framesIn), len(rec.framesOut), len(rec.console))
}

// short abbreviates a URL for a message (fonts come as long data: URLs).
func short(u string) string {
	if len(u) > 120 {
		return u[:120] + "…"
	}
	return u
}

func shortAll(urls []string) []string {
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = short(u)
	}
	return out
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// playgroundLink is the playground's URL with a document and variables in it.
func playgroundLink(base, query, variables string) string {
	return base + "/?" + url.Values{"query": {query}, "variables": {variables}}.Encode()
}

// editorValue returns JavaScript that yields the text of the CodeMirror
// editor under selector when it contains want, and "" until then.
func editorValue(selector, want string) string {
	return fmt.Sprintf(`(() => {
  for (const el of document.querySelectorAll(%q)) {
    const v = el.CodeMirror ? el.CodeMirror.getValue() : "";
    if (v.includes(%q)) return v;
  }
  return "";
})()`, selector+" .CodeMirror", want)
}

// chromiumPath returns Debian's Chromium, installing it when it is missing
// and the test runs as root. Without it the test skips, or fails when
// CI=true.
func chromiumPath(t *testing.T) string {
	t.Helper()
	const debian = "/usr/bin/chromium"
	if _, err := os.Stat(debian); err == nil {
		return debian
	}
	err := aptInstall(t, "chromium", "fonts-liberation")
	if err == nil {
		if _, err = os.Stat(debian); err == nil {
			return debian
		}
	}
	msg := fmt.Sprintf("headless Chromium is needed at %s and could not be installed: %v", debian, err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg + " (run `apt-get install -y chromium` as root; under CI=true this is a failure)")
	return ""
}

// browser is a headless Chromium whose tabs record their console, their
// requests and their WebSocket traffic.
type browser struct {
	t      *testing.T
	ctx    context.Context      // the browser, with its first tab
	used   bool                 // whether the first tab is taken
	output *testutil.SyncBuffer // Chromium's stdout and stderr

	mu   sync.Mutex // guards tabs and recording
	tabs []*tab
	recording
}

// recording is what the tabs saw.
type recording struct {
	console   []consoleLine
	requests  []string // URLs of HTTP requests
	sockets   []string // URLs of WebSockets
	protocols []string // subprotocols the server chose
	framesIn  []string
	framesOut []string
}

type consoleLine struct {
	text string
	bad  bool // an error, an exception, or a Content-Security-Policy violation
}

type tab struct {
	b    *browser
	name string
	ctx  context.Context

	document *network.Response // the last HTML document loaded, guarded by b.mu
}

func startBrowser(t *testing.T, path, origin string) *browser {
	t.Helper()
	out := &testutil.SyncBuffer{}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// The machine may have no network but loopback: keep Chromium from
		// calling home.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(out),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	// The first run starts Chromium and ties it to its context: no timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v\n%s", path, err, out.String())
	}
	return &browser{t: t, ctx: ctx, output: out}
}

// newTab opens a tab, or takes the first one, and starts recording it.
func (b *browser) newTab(name string) *tab {
	ctx := b.ctx
	if b.used {
		var cancel context.CancelFunc
		ctx, cancel = chromedp.NewContext(b.ctx)
		b.t.Cleanup(cancel)
		if err := chromedp.Do(ctx); err != nil {
			b.fatalf("opening tab %s: %v", name, err)
		}
	}
	b.used = true
	tb := &tab{b: b, name: name, ctx: ctx}
	b.mu.Lock()
	b.tabs = append(b.tabs, tb)
	b.mu.Unlock()

	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			line := consoleLine{text: name + ": " + m.String()}
			if m.URL != "" {
				line.text += fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
			}
			line.bad = m.Type == chromedp.ConsoleError || m.IsException() ||
				strings.Contains(m.Text, "Content Security Policy")
			b.mu.Lock()
			b.console = append(b.console, line)
			b.mu.Unlock()
		}
	}()
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.requests = append(b.requests, ev.Request.URL)
		case *network.EventResponseReceived:
			if ev.Type == network.ResourceTypeDocument {
				tb.document = ev.Response
			}
		case *network.EventWebSocketCreated:
			b.sockets = append(b.sockets, ev.URL)
		case *network.EventWebSocketHandshakeResponseReceived:
			for k, v := range ev.Response.Headers {
				if strings.EqualFold(k, "Sec-WebSocket-Protocol") {
					b.protocols = append(b.protocols, fmt.Sprint(v))
				}
			}
		case *network.EventWebSocketFrameReceived:
			b.framesIn = append(b.framesIn, string(ev.Response.PayloadData))
		case *network.EventWebSocketFrameSent:
			b.framesOut = append(b.framesOut, string(ev.Response.PayloadData))
		}
	})
	if err != nil {
		b.fatalf("listening to tab %s: %v", name, err)
	}
	return tb
}

// snapshot copies the recording. The tabs' listeners take b.mu inside
// Chromium's message loop, so nothing that waits for Chromium may hold it.
func (b *browser) snapshot() recording {
	b.mu.Lock()
	defer b.mu.Unlock()
	return recording{
		console:   slices.Clone(b.console),
		requests:  slices.Clone(b.requests),
		sockets:   slices.Clone(b.sockets),
		protocols: slices.Clone(b.protocols),
		framesIn:  slices.Clone(b.framesIn),
		framesOut: slices.Clone(b.framesOut),
	}
}

// frameSent returns the first WebSocket message the page sent that contains
// s, or "".
func (b *browser) frameSent(s string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, f := range b.framesOut {
		if strings.Contains(f, s) {
			return f
		}
	}
	return ""
}

// open loads u and checks the document's status and policy header. The
// response comes from the tab's own recording: chromedp.NavigateResponse can
// return none when the page being left calls history.replaceState (GraphiQL
// remembers an edited query in the URL a moment after the edit) while the
// navigation is under way, and Chromium may then drop the navigation, so a
// navigation that brought no document is tried again.
func (tb *tab) open(u string) {
	var res *network.Response
	for attempt := 1; res == nil && attempt <= 3; attempt++ {
		if attempt > 1 {
			tb.b.t.Logf("%s: opening %s loaded no document; trying again", tb.name, u)
		}
		tb.b.mu.Lock()
		tb.document = nil
		tb.b.mu.Unlock()
		ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
		err := chromedp.Do(ctx, chromedp.Navigate(u))
		cancel()
		if err != nil {
			tb.b.fatalf("%s: opening %s: %v", tb.name, u, err)
		}
		tb.poll(5*time.Second, func() string {
			tb.b.mu.Lock()
			defer tb.b.mu.Unlock()
			if res = tb.document; res == nil {
				return ""
			}
			return res.URL
		})
	}
	switch {
	case res == nil:
		tb.b.fatalf("%s: opening %s: three navigations loaded no document", tb.name, u)
	case res.Status != 200 || res.Headers["Content-Security-Policy"] == nil:
		tb.b.fatalf("%s: opening %s: status %d, headers %v", tb.name, u, res.Status, res.Headers)
	}
}

func (tb *tab) click(selector string) {
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(selector))); err != nil {
		tb.b.fatalf("%s: clicking %s: %v", tb.name, selector, err)
	}
}

// poll evaluates check, JavaScript or a Go func returning a string, until it
// yields a non-empty string or timeout passes, and returns the last value.
// It does not use chromedp.Poll, which compiles its predicate with
// new Function, an eval the page's Content-Security-Policy forbids.
func (tb *tab) poll(timeout time.Duration, check any) string {
	deadline := time.Now().Add(timeout)
	for {
		var v string
		switch c := check.(type) {
		case string:
			ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
			v, _ = chromedp.Run(ctx, chromedp.Evaluate[string](c))
			cancel()
		case func() string:
			v = c()
		}
		if v != "" || time.Now().After(deadline) {
			return v
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitFor polls check for 30 seconds and fails the test if it stays empty.
func (tb *tab) waitFor(what string, check any) string {
	v := tb.poll(30*time.Second, check)
	if v == "" {
		tb.b.fatalf("%s: timed out waiting for %s", tb.name, what)
	}
	return v
}

// fatalf fails the test with the console of every tab, Chromium's output
// and a screenshot of every tab.
func (b *browser) fatalf(format string, args ...any) {
	b.t.Helper()
	rec := b.snapshot()
	b.mu.Lock()
	tabs := slices.Clone(b.tabs)
	b.mu.Unlock()
	var msg strings.Builder
	fmt.Fprintf(&msg, format, args...)
	msg.WriteString("\nconsole:")
	if len(rec.console) == 0 {
		msg.WriteString(" (empty)")
	}
	for _, m := range rec.console {
		msg.WriteString("\n  " + m.text)
	}
	// Kept after the test, unlike t.TempDir, so that it can be looked at.
	dir, err := os.MkdirTemp("", "playground-e2e-")
	for _, tb := range tabs {
		if err != nil {
			break
		}
		ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
		png, shotErr := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if shotErr != nil {
			fmt.Fprintf(&msg, "\nscreenshot of %s: %v", tb.name, shotErr)
			continue
		}
		file := filepath.Join(dir, tb.name+".png")
		if err := os.WriteFile(file, png, 0o644); err != nil {
			fmt.Fprintf(&msg, "\nscreenshot of %s: %v", tb.name, err)
			continue
		}
		fmt.Fprintf(&msg, "\nscreenshot of %s: %s", tb.name, file)
	}
	if err != nil {
		fmt.Fprintf(&msg, "\nscreenshots: %v", err)
	}
	if out := b.output.String(); out != "" {
		msg.WriteString("\nchromium output (tail):\n" + out[max(0, len(out)-3000):])
	}
	b.t.Fatal(msg.String())
}
