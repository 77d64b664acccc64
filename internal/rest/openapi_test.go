package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/paths"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"sessionhub/internal/auth"
	"sessionhub/internal/rest"
	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

// contract checks exchanges against openapi.json and remembers which
// operation and status each one covered.
type contract struct {
	v     validator.Validator
	model *v3.Document
	opts  *config.ValidationOptions
	seen  map[string]bool // "GET /api/messaging/sessions/{sessionId} 404"
}

func loadContract(t *testing.T) *contract {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatal(err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		for _, e := range errs {
			t.Errorf("openapi.json is not valid OpenAPI 3.1: %s", e.Error())
		}
		t.FailNow()
	}
	return &contract{v: v, model: &model.Model, opts: config.NewValidationOptions(), seen: map[string]bool{}}
}

// call is one request, the status it must get, and whether it breaks the
// document on purpose (then the document must refuse it too).
type call struct {
	method, path, body string
	contentType        string // defaults to application/json when there is a body
	header             http.Header
	ctx                context.Context
	bodyErr            error // the handler's body fails with it after body (a read deadline)
	status             int
	offContract        bool
}

func (x call) request() *http.Request {
	r := httptest.NewRequest(x.method, x.path, strings.NewReader(x.body))
	if x.contentType != "" {
		r.Header.Set("Content-Type", x.contentType)
	} else if x.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range x.header {
		r.Header[k] = vs
	}
	if x.ctx != nil {
		r = r.WithContext(x.ctx)
	}
	return r
}

// do serves x with h, checks its status, and validates request and response.
func (c *contract) do(t *testing.T, h http.Handler, x call) reply {
	t.Helper()
	rec := httptest.NewRecorder()
	served := x.request()
	if x.bodyErr != nil {
		served.Body = io.NopCloser(io.MultiReader(strings.NewReader(x.body), failingReader{x.bodyErr}))
	}
	h.ServeHTTP(rec, served)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	res.Body = io.NopCloser(bytes.NewReader(body))
	name := x.method + " " + x.path
	if len(name) > 120 {
		name = name[:120] + "…"
	}
	if res.StatusCode != x.status {
		t.Errorf("%s: %d %.300s, want %d", name, res.StatusCode, body, x.status)
	}
	ok, errs := c.v.ValidateHttpRequestSync(x.request())
	switch {
	case !ok && !x.offContract:
		t.Errorf("%s: the document refuses this request:%s", name, describe(errs))
	case ok && x.offContract:
		t.Errorf("%s: the document accepts a request the shim refuses (%d)", name, res.StatusCode)
	case !ok:
		t.Logf("%s: refused as intended:%s", name, describe(errs))
	}
	if ok, errs := c.v.ValidateHttpResponse(x.request(), res); !ok {
		t.Errorf("%s: %d %.300s does not match the document:%s", name, res.StatusCode, body, describe(errs))
	}
	_, _, template := paths.FindPath(x.request(), c.model, c.opts)
	if template == "" {
		t.Errorf("%s: no operation in the document", name)
	}
	c.seen[x.method+" "+template+" "+strconv.Itoa(res.StatusCode)] = true
	return reply{Status: res.StatusCode, Header: res.Header, Body: body}
}

// timedOut is what a body read past the server's read deadline returns.
var timedOut = &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

func describe[E interface{ Error() string }](errs []E) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("\n\t" + e.Error())
	}
	return b.String()
}

// operations lists "METHOD /path STATUS" for every response in the document.
func (c *contract) operations() []string {
	var out []string
	for path, item := range c.model.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			for code := range op.Responses.Codes.KeysFromOldest() {
				out = append(out, strings.ToUpper(method)+" "+path+" "+code)
			}
		}
	}
	return out
}

// everyRoute is one well-formed request per route of Register, for the
// failures that come before or beneath the handler (401, 429, 500, 503).
func everyRoute(agentID string) []call {
	one := "/api/messaging/sessions/" + testutil.MustUUID()
	return []call{
		{method: "POST", path: "/api/messaging/sessions", body: `{"agentId":"` + agentID + `","userId":"` + testutil.MustUUID() + `"}`},
		{method: "GET", path: "/api/messaging/sessions"},
		{method: "GET", path: "/api/messaging/sessions/health"},
		{method: "GET", path: one},
		{method: "DELETE", path: one},
		{method: "POST", path: one + "/messages", body: `{"content":"hi"}`},
		{method: "GET", path: one + "/messages"},
		{method: "POST", path: one + "/renew"},
		{method: "PATCH", path: one + "/timeout", body: `{"timeoutMinutes":10}`},
		{method: "POST", path: one + "/heartbeat"},
	}
}

func isHealth(x call) bool { return strings.HasSuffix(x.path, "/health") }

// TestOpenAPI drives every route of the shim, answers and errors, through the
// in-process shim on SQLite, and validates each request and response against
// openapi.json; then every operation and status of the document must have
// been seen.
func TestOpenAPI(t *testing.T) {
	c := loadContract(t)
	s := newShim(t, store.SQLite)
	const base = "/api/messaging/sessions"
	unknown := base + "/" + testutil.MustUUID()
	user := testutil.MustUUID()
	padding := `"pad":"` + strings.Repeat("x", rest.MaxBodyBytes) + `"`
	create := func(t *testing.T, timeout string) string {
		t.Helper()
		var out struct{ SessionID string }
		r := c.do(t, s.mux, call{method: "POST", path: base, status: 201,
			body: `{"agentId":"` + s.agentID + `","userId":"` + user + `","metadata":{"platform":"web"},"timeoutConfig":` + timeout + `}`})
		_ = json.Unmarshal(r.Body, &out)
		return base + "/" + out.SessionID
	}

	t.Run("create", func(t *testing.T) {
		create(t, `{"timeoutMinutes":10,"autoRenew":null}`)
		for _, x := range []call{
			{body: `{}`, status: 400},
			{body: `{"agentId":"` + s.agentID + `","userId":"not-a-uuid"}`, status: 400, offContract: true},
			{body: `{"agentId":"` + s.agentID + `","userId":"` + user + `","timeoutConfig":{"timeoutMinutes":0}}`, status: 400, offContract: true},
			{body: `{"agentId":"` + s.agentID + `","userId":"` + user + `","timeoutConfig":{"autoRenew":"false"}}`, status: 400, offContract: true},
			{body: `{"agentId":"` + s.agentID + `","userId":"` + user + `","metadata":"web"}`, status: 400, offContract: true},
			{body: `{"agentId":`, status: 400, offContract: true},
			{body: `[]`, status: 400, offContract: true},
			{body: `{"agentId":"` + testutil.MustUUID() + `","userId":"` + user + `"}`, status: 404},
			{body: `{"agentId":"` + s.agentID + `","userId":"` + user + `",` + padding + `}`, status: 413}, // the document cannot bound bytes
			{body: `{}`, contentType: "text/plain", status: 415, offContract: true},
			{body: `{"agentId":"` + s.agentID + `","userId":"` + user + `"}`, bodyErr: timedOut, status: 408},
		} {
			x.method, x.path = "POST", base
			c.do(t, s.mux, x)
		}
	})

	t.Run("send", func(t *testing.T) {
		one := create(t, `{}`)
		msgs := one + "/messages"
		key := http.Header{"Idempotency-Key": {"k-1"}}
		c.do(t, s.mux, call{method: "POST", path: msgs, status: 201, header: key,
			body: `{"content":"Hello","metadata":{"source":"web"},"attachments":[{"type":"image","url":"https://example.com/a.png","name":"a"},{"type":"link","url":"http://example.com","name":null}]}`})
		c.do(t, s.mux, call{method: "POST", path: msgs, status: 201, body: `{"content":"plain","metadata":null,"attachments":null}`})
		for _, x := range []call{
			{body: `{"content":"Hello","metadata":{"source":"web"},"attachments":[{"type":"image","url":"https://example.com/a.png","name":"a"},{"type":"link","url":"http://example.com","name":null}]}`, header: key, status: 201}, // a replay
			{body: `{"content":"Another"}`, header: key, status: 422},
			{body: `{"content":"x"}`, header: http.Header{"Idempotency-Key": {strings.Repeat("k", 256)}}, status: 400, offContract: true},
			{body: `{"content":""}`, status: 400, offContract: true},
			{body: `{"content":5}`, status: 400, offContract: true},
			{body: `{"metadata":{}}`, status: 400, offContract: true},
			{body: `{"content":"` + strings.Repeat("é", 4001) + `"}`, status: 400, offContract: true},
			{body: `{"content":"x","metadata":{"big":"` + strings.Repeat("x", 10300) + `"}}`, status: 400},
			{body: `{"content":"x","attachments":[{"type":"image","url":"/relative.png"}]}`, status: 400, offContract: true},
			{body: `{"content":"x","attachments":[{"url":"https://example.com"}]}`, status: 400, offContract: true},
			{body: `{"content":"x","attachments":[` + strings.Repeat(`{"type":"a","url":"https://e.com"},`, 10) + `{"type":"a","url":"https://e.com"}]}`, status: 400, offContract: true},
			{body: `{"content":"x",` + padding + `}`, status: 413},
			{body: `content=x`, contentType: "application/x-www-form-urlencoded", status: 415, offContract: true},
			{body: `{"content":"x"}`, bodyErr: timedOut, status: 408},
		} {
			x.method, x.path = "POST", msgs
			c.do(t, s.mux, x)
		}
		c.do(t, s.mux, call{method: "POST", path: unknown + "/messages", body: `{"content":"x"}`, status: 404})
		c.do(t, s.mux, call{method: "POST", path: base + "/nope/messages", body: `{"content":"x"}`, status: 404, offContract: true})
	})

	t.Run("read, list, history", func(t *testing.T) {
		one := create(t, `{"timeoutMinutes":30}`)
		s.send(strings.TrimPrefix(one, base+"/"), "first")
		s.send(strings.TrimPrefix(one, base+"/"), "second")
		c.do(t, s.mux, call{method: "GET", path: one, status: 200})
		c.do(t, s.mux, call{method: "GET", path: unknown, status: 404})
		c.do(t, s.mux, call{method: "GET", path: base + "/nope", status: 404, offContract: true})

		var page struct{ NextCursor string }
		r := c.do(t, s.mux, call{method: "GET", path: base + "?limit=1", status: 200})
		_ = json.Unmarshal(r.Body, &page)
		c.do(t, s.mux, call{method: "GET", path: base + "?limit=100&cursor=" + page.NextCursor, status: 200})
		c.do(t, s.mux, call{method: "GET", path: base + "?cursor=garbage", status: 400})
		c.do(t, s.mux, call{method: "GET", path: base + "/health", status: 200})

		var hist struct{ CursorTokens struct{ Before string } }
		r = c.do(t, s.mux, call{method: "GET", path: one + "/messages?limit=1", status: 200})
		_ = json.Unmarshal(r.Body, &hist)
		c.do(t, s.mux, call{method: "GET", path: one + "/messages?before=" + hist.CursorTokens.Before, status: 200})
		c.do(t, s.mux, call{method: "GET", path: one + "/messages?after=0&limit=5", status: 200})
		c.do(t, s.mux, call{method: "GET", path: one + "/messages?after=9999999999999", status: 200}) // empty page
		c.do(t, s.mux, call{method: "GET", path: one + "/messages?before=yesterday", status: 400})
		c.do(t, s.mux, call{method: "GET", path: unknown + "/messages", status: 404})
	})

	t.Run("renew, heartbeat, timeout, delete", func(t *testing.T) {
		one := create(t, `{"timeoutMinutes":30,"maxDurationMinutes":60}`)
		c.do(t, s.mux, call{method: "POST", path: one + "/heartbeat", status: 200})
		c.do(t, s.mux, call{method: "POST", path: one + "/renew", status: 200})
		c.do(t, s.mux, call{method: "PATCH", path: one + "/timeout", body: `{"timeoutMinutes":45,"autoRenew":true,"warningThresholdMinutes":null}`, status: 200})
		for _, x := range []call{
			{body: `{"timeoutMinutes":2}`, status: 400}, // outside the server's range, which the document cannot know
			{body: `{"autoRenew":"yes"}`, status: 400, offContract: true},
			{body: `{"maxDurationMinutes":1.5}`, status: 400, offContract: true},
			{body: ``, contentType: "application/json", status: 400, offContract: true}, // the body is required
			{body: `{` + padding + `}`, status: 413},
			{body: `timeoutMinutes=10`, contentType: "text/plain", status: 415, offContract: true},
			{body: `{"timeoutMinutes":45}`, bodyErr: timedOut, status: 408},
		} {
			x.method, x.path = "PATCH", one+"/timeout"
			c.do(t, s.mux, x)
		}
		for _, x := range []call{
			{method: "POST", path: unknown + "/heartbeat"},
			{method: "POST", path: unknown + "/renew"},
			{method: "PATCH", path: unknown + "/timeout", body: `not json`, offContract: true}, // 404 wins over the body
			{method: "DELETE", path: unknown},
		} {
			x.status = 404
			c.do(t, s.mux, x)
		}
		c.do(t, s.mux, call{method: "DELETE", path: one, status: 200})
	})

	t.Run("expired", func(t *testing.T) {
		short := create(t, `{"timeoutMinutes":5}`)
		capped := create(t, `{"timeoutMinutes":30,"maxDurationMinutes":30}`)
		s.clock.Advance(31 * time.Minute)
		for _, x := range []call{
			{method: "GET", path: short},
			{method: "POST", path: short + "/messages", body: `{"content":"late"}`},
			{method: "POST", path: short + "/messages", body: `{"content":""}`, offContract: true}, // 410 wins over the content rules
			{method: "GET", path: short + "/messages"},
			{method: "POST", path: short + "/renew"}, // expired by inactivity before its cap
			{method: "PATCH", path: short + "/timeout", body: `{"timeoutMinutes":60}`},
			{method: "POST", path: short + "/heartbeat"},
		} {
			x.status = 410 // with Cache-Control: no-store, which the document requires
			c.do(t, s.mux, x)
		}
		c.do(t, s.mux, call{method: "POST", path: capped + "/renew", status: 422})
		c.do(t, s.mux, call{method: "DELETE", path: short, status: 200}) // expired sessions can be deleted
	})

	t.Run("credentials", func(t *testing.T) {
		// The gate of server.go (auth.Gate with the shim's Reject) around the
		// same mux: real 401 and 403 answers, and a key that is accepted.
		const secret, apiKey = "openapi-test-secret", "openapi-test-key"
		authn, err := auth.New(auth.Config{APIKeys: []string{apiKey}, HS256Secret: secret})
		if err != nil {
			t.Fatal(err)
		}
		gated := (&auth.Gate{Auth: authn, Now: time.Now}).Wrap(s.mux, rest.New(s.svc, testutil.Logger()).Reject)
		for _, x := range everyRoute(s.agentID) {
			x.status = 401
			c.do(t, gated, x)
		}
		c.do(t, gated, call{method: "GET", path: base + "/" + testutil.MustUUID(), header: http.Header{"Authorization": {"Bearer not-a-token"}}, status: 401})
		c.do(t, gated, call{method: "GET", path: base, header: http.Header{"X-Api-Key": {apiKey}}, status: 200})
		token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": testutil.MustUUID(), "role": "agent", "exp": time.Now().Add(time.Hour).Unix(),
		}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		c.do(t, gated, call{method: "POST", path: base, header: http.Header{"Authorization": {"Bearer " + token}}, status: 403,
			body: `{"agentId":"` + s.agentID + `","userId":"` + user + `"}`}) // another agent's session
	})

	t.Run("rate limit", func(t *testing.T) {
		// One request a minute per caller, on a clock that does not move.
		now := time.Now()
		limited := (&auth.Gate{Auth: authOff(t), Limiter: auth.NewRateLimiter(1), Now: func() time.Time { return now }}).
			Wrap(s.mux, rest.New(s.svc, testutil.Logger()).Reject)
		c.do(t, limited, call{method: "GET", path: base + "/health", status: 200}) // the one allowed
		for _, x := range everyRoute(s.agentID) {
			x.status = 429
			c.do(t, limited, x)
		}
	})

	t.Run("database unavailable", func(t *testing.T) {
		// What the server's request timeout does to a stalled database: the
		// store sees an expired context and the shim answers 503.
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		for _, x := range everyRoute(s.agentID) {
			x.ctx, x.status = ctx, 503 // with Retry-After, except health
			c.do(t, s.mux, x)
		}
	})

	t.Run("internal error", func(t *testing.T) {
		// A closed database is not a transient outage: 500, except health (503).
		broken := newShim(t, store.SQLite)
		_ = broken.store.Close()
		for _, x := range everyRoute(broken.agentID) {
			x.status = 500
			if isHealth(x) {
				x.status = 503
			}
			c.do(t, broken.mux, x)
		}
	})

	t.Run("probes and the document", func(t *testing.T) {
		// /healthz and /readyz are served by server.go (package main), which
		// this package cannot import: these are their answers as its
		// writeStatus builds them, so the body and header schemas are checked.
		for _, x := range []struct {
			path   string
			code   int
			status string
		}{
			{"/healthz", 200, "ok"}, {"/readyz", 200, "ready"},
			{"/readyz", 503, "draining"}, {"/readyz", 503, "database unavailable"},
		} {
			probe := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.Header().Set("Cache-Control", "no-store")
				w.WriteHeader(x.code)
				_, _ = io.WriteString(w, `{"status":"`+x.status+`"}`+"\n")
			})
			c.do(t, probe, call{method: "GET", path: x.path, status: x.code})
		}
		r := c.do(t, http.HandlerFunc(rest.ServeOpenAPI), call{method: "GET", path: "/openapi.json", status: 200})
		if raw, _ := os.ReadFile("openapi.json"); !bytes.Equal(r.Body, raw) {
			t.Error("ServeOpenAPI does not serve openapi.json as it is")
		}
	})

	t.Run("every operation and status was exercised", func(t *testing.T) {
		for _, op := range c.operations() {
			if !c.seen[op] {
				t.Errorf("no exchange covered %s", op)
			}
		}
	})
}

// TestOpenAPIMatchesRegister: the document's /api paths are exactly the
// routes of Handler.Register (read from handler.go), so neither can drift.
func TestOpenAPIMatchesRegister(t *testing.T) {
	c := loadContract(t)
	documented := map[string]bool{}
	for path, item := range c.model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().KeysFromOldest() {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	registered := registeredRoutes(t)
	if len(registered) == 0 {
		t.Fatal("found no routes in handler.go")
	}
	for _, route := range registered {
		if !documented[route] {
			t.Errorf("%s is registered but not in openapi.json", route)
		}
	}
	for route := range documented {
		_, path, _ := strings.Cut(route, " ")
		root := slices.Contains([]string{"/healthz", "/readyz", "/openapi.json"}, path)
		if !root && !slices.Contains(registered, route) {
			t.Errorf("%s is in openapi.json but not registered", route)
		}
	}
}

// registeredRoutes reads the patterns Register passes to mux.HandleFunc.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), "handler.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	ast.Inspect(file, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "Register" {
			return true
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok && len(call.Args) > 0 {
				if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					pattern, _ := strconv.Unquote(lit.Value)
					routes = append(routes, pattern)
				}
			}
			return true
		})
		return false
	})
	return routes
}

func authOff(t *testing.T) *auth.Authenticator {
	t.Helper()
	a, err := auth.New(auth.Config{}) // authentication off: every caller is anonymous
	if err != nil {
		t.Fatal(err)
	}
	return a
}
