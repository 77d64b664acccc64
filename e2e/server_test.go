package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

const userID = "123e4567-e89b-12d3-a456-426614174000"

var isoMillis = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// TestSeedSendSessionMessage reproduces reference/seed-send-session-message.md
// against the real binary, on both databases: the request, the 201 body's
// fields in order, and the documented 404, 410 and 400 bodies byte for byte.
func TestSeedSendSessionMessage(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			dbURL := testutil.DatabaseURL(t, dialect)
			srv := startServer(t, dbURL)
			sessionID := srv.createSession(t, srv.createAgent(t), userID)
			path := "/api/messaging/sessions/" + sessionID + "/messages"

			t.Run("201 with the documented fields", func(t *testing.T) {
				res := srv.postJSON(t, path, map[string]any{"content": "Hello, how are you?", "metadata": map[string]any{"source": "web"}})
				if res.Status != http.StatusCreated {
					t.Fatalf("status %d: %s", res.Status, res.Body)
				}
				if got, want := objectKeys(t, res.Body), []string{"id", "content", "authorId", "createdAt", "metadata", "sessionStatus"}; !slices.Equal(got, want) {
					t.Errorf("keys %v, want %v", got, want)
				}
				var body struct {
					ID, Content, AuthorID, CreatedAt string
					Metadata                         map[string]any
					SessionStatus                    json.RawMessage
				}
				if err := json.Unmarshal(res.Body, &body); err != nil {
					t.Fatal(err)
				}
				if got, want := objectKeys(t, body.SessionStatus), []string{"expiresAt", "renewalCount", "wasRenewed", "isNearExpiration"}; !slices.Equal(got, want) {
					t.Errorf("sessionStatus keys %v, want %v", got, want)
				}
				var status struct {
					ExpiresAt        string
					RenewalCount     int
					WasRenewed       bool
					IsNearExpiration bool
				}
				if err := json.Unmarshal(body.SessionStatus, &status); err != nil {
					t.Fatal(err)
				}
				if body.Content != "Hello, how are you?" || body.AuthorID != userID || body.Metadata["source"] != "web" {
					t.Errorf("body %s", res.Body)
				}
				if !isoMillis.MatchString(body.CreatedAt) || !isoMillis.MatchString(status.ExpiresAt) {
					t.Errorf("timestamps not ISO with milliseconds: %s", res.Body)
				}
				if status.RenewalCount != 1 || !status.WasRenewed || status.IsNearExpiration {
					t.Errorf("sessionStatus %+v, want renewalCount 1, renewed, not near expiration", status)
				}
			})

			t.Run("attachments are echoed when sent", func(t *testing.T) {
				res := srv.do(t, "POST", path, "application/json",
					`{"content":"see this","attachments":[{"type":"image","url":"https://example.com/a.png","name":"a.png"}]}`)
				if res.Status != http.StatusCreated {
					t.Fatalf("status %d: %s", res.Status, res.Body)
				}
				if !strings.Contains(string(res.Body), `"attachments":[{"type":"image","url":"https://example.com/a.png","name":"a.png"}]`) {
					t.Errorf("attachments missing: %s", res.Body)
				}
			})

			t.Run("404 session not found", func(t *testing.T) {
				res := srv.postJSON(t, "/api/messaging/sessions/abc-123/messages", map[string]any{"content": "hi"})
				want := `{"error":"Session not found","details":{"sessionId":"abc-123"},"code":"SESSION_NOT_FOUND"}` + "\n"
				if res.Status != http.StatusNotFound || string(res.Body) != want {
					t.Errorf("got %d %s, want 404 %s", res.Status, res.Body, want)
				}
			})

			t.Run("400 content too long", func(t *testing.T) {
				res := srv.postJSON(t, path, map[string]any{"content": strings.Repeat("a", 4001)})
				want := `{"error":"Content exceeds maximum length of 4000 characters","code":"VALIDATION_ERROR"}` + "\n"
				if res.Status != http.StatusBadRequest || string(res.Body) != want {
					t.Errorf("got %d %s, want 400 %s", res.Status, res.Body, want)
				}
				if res := srv.postJSON(t, path, map[string]any{"content": strings.Repeat("😀", 4000)}); res.Status != http.StatusCreated {
					t.Errorf("4000 emoji: %d %s", res.Status, res.Body)
				}
			})

			t.Run("410 session expired, every time", func(t *testing.T) {
				expired := srv.createSession(t, srv.createAgent(t), userID)
				expiresAt := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
				db := openDatabase(t, dbURL)
				if err := db.DB().Exec("UPDATE sessions SET expires_at = ? WHERE id = ?", expiresAt, expired).Error; err != nil {
					t.Fatal(err)
				}
				want := fmt.Sprintf(`{"error":"Session has expired","details":{"sessionId":%q,"expiresAt":%q},"code":"SESSION_EXPIRED"}`+"\n",
					expired, expiresAt.Format("2006-01-02T15:04:05.000Z"))
				for i := range 3 {
					res := srv.postJSON(t, "/api/messaging/sessions/"+expired+"/messages", map[string]any{"content": "anyone there?"})
					if res.Status != http.StatusGone || string(res.Body) != want {
						t.Fatalf("attempt %d: got %d %s, want 410 %s", i, res.Status, res.Body, want)
					}
					if got := res.Header.Get("Cache-Control"); got != "no-store" {
						t.Errorf("Cache-Control %q, want no-store", got)
					}
				}
				var count int64
				db.DB().Table("messages").Where("session_id = ?", expired).Count(&count)
				if count != 0 {
					t.Errorf("%d messages stored in an expired session", count)
				}
			})
		})
	}
}

// TestRESTBadInput checks that every malformed request gets a clear 4xx
// with the shim's error shape, and changes nothing.
func TestRESTBadInput(t *testing.T) {
	dbURL := testutil.DatabaseURL(t, store.SQLite)
	srv := startServer(t, dbURL)
	agentID := srv.createAgent(t)
	sessionID := srv.createSession(t, agentID, userID)
	send := "/api/messaging/sessions/" + sessionID + "/messages"
	create := "/api/messaging/sessions"

	cases := []struct {
		name, path, contentType, body string
		status                        int
		error                         string
	}{
		{"malformed JSON", send, "application/json", `{"content":`, 400, "Request body is not valid JSON"},
		{"not an object", send, "application/json", `["hi"]`, 400, "Request body must be a JSON object"},
		{"empty body", send, "application/json", ``, 400, "Request body must be a JSON object"},
		{"trailing data", send, "application/json", `{"content":"a"} {}`, 400, "Request body must be a single JSON object"},
		{"wrong content type", send, "text/plain", `{"content":"a"}`, 415, "Content-Type must be application/json"},
		{"no content type", send, "", `{"content":"a"}`, 415, "Content-Type must be application/json"},
		{"create: no content type", create, "", `{"agentId":"` + agentID + `","userId":"` + userID + `"}`, 415, "Content-Type must be application/json"},
		{"content missing", send, "application/json", `{}`, 400, "Content must be a string"},
		{"content wrong type", send, "application/json", `{"content":5}`, 400, "Invalid request body: content must be a string"},
		{"content empty", send, "application/json", `{"content":""}`, 400, "Content cannot be empty"},
		{"metadata not an object", send, "application/json", `{"content":"a","metadata":"x"}`, 400, "Metadata must be a JSON object"},
		{"metadata too large", send, "application/json", `{"content":"a","metadata":{"k":"` + strings.Repeat("x", 10240) + `"}}`, 400, "Metadata exceeds maximum size of 10240 bytes"},
		{"attachments not a list", send, "application/json", `{"content":"a","attachments":{}}`, 400, "Invalid request body: attachments must be an array"},
		{"attachment without type", send, "application/json", `{"content":"a","attachments":[{"url":"https://x.io/a"}]}`, 400, "Attachment 0 must have a type"},
		{"attachment bad url", send, "application/json", `{"content":"a","attachments":[{"type":"file","url":"javascript:alert(1)"}]}`, 400, "Attachment 0 must have an absolute http or https url"},
		{"too many attachments", send, "application/json", `{"content":"a","attachments":[` + strings.TrimSuffix(strings.Repeat(`{"type":"f","url":"https://x.io"},`, 11), ",") + `]}`, 400, "Too many attachments: at most 10 are allowed"},
		{"body too large", send, "application/json", `{"content":"` + strings.Repeat("a", 140000) + `"}`, 413, "Request body exceeds 131072 bytes"},
		{"create: missing ids", create, "application/json", `{}`, 400, "Missing required fields: agentId, userId"},
		{"create: bad agentId", create, "application/json", `{"agentId":"nope","userId":"` + userID + `"}`, 400, "Invalid UUID format for field 'agentId'"},
		{"create: bad userId", create, "application/json", `{"agentId":"` + agentID + `","userId":"nope"}`, 400, "Invalid UUID format for field 'userId'"},
		{"create: unknown agent", create, "application/json", `{"agentId":"` + testutil.MustUUID() + `","userId":"` + userID + `"}`, 404, "Agent not found"},
		{"create: autoRenew as string", create, "application/json", `{"agentId":"` + agentID + `","userId":"` + userID + `","timeoutConfig":{"autoRenew":"false"}}`, 400, "Invalid request body: timeoutConfig.autoRenew must be a boolean"},
		{"create: fractional timeout", create, "application/json", `{"agentId":"` + agentID + `","userId":"` + userID + `","timeoutConfig":{"timeoutMinutes":1.5}}`, 400, "Invalid request body: timeoutConfig.timeoutMinutes must be an integer"},
		{"create: metadata too large", create, "application/json", `{"agentId":"` + agentID + `","userId":"` + userID + `","metadata":{"k":"` + strings.Repeat("x", 10240) + `"}}`, 400, "Metadata exceeds maximum size of 10240 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := srv.do(t, "POST", tc.path, tc.contentType, tc.body)
			var body struct {
				Error string `json:"error"`
				Code  string `json:"code"`
			}
			if err := json.Unmarshal(res.Body, &body); err != nil {
				t.Fatalf("body is not the error shape: %s", res.Body)
			}
			if res.Status != tc.status || body.Error != tc.error {
				t.Errorf("got %d %q, want %d %q", res.Status, body.Error, tc.status, tc.error)
			}
			if body.Code == "" {
				t.Errorf("no code in %s", res.Body)
			}
			if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("error answer headers Cache-Control %q, X-Content-Type-Options %q; want no-store, nosniff",
					res.Header.Get("Cache-Control"), res.Header.Get("X-Content-Type-Options"))
			}
		})
	}

	db := openDatabase(t, dbURL)
	var messages, sessions int64
	db.DB().Table("messages").Count(&messages)
	db.DB().Table("sessions").Count(&sessions)
	var renewals int
	db.DB().Table("sessions").Select("renewal_count").Where("id = ?", sessionID).Scan(&renewals)
	if messages != 0 || sessions != 1 || renewals != 0 {
		t.Errorf("bad input changed state: %d messages, %d sessions, renewal_count %d", messages, sessions, renewals)
	}
}

// TestGraphQLMirrorsREST checks that GraphQL reports the seed's errors with the same codes and details.
func TestGraphQLMirrorsREST(t *testing.T) {
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite))
	sessionID := srv.createSession(t, srv.createAgent(t), userID)
	const send = `mutation($id: ID!, $content: String!) {
		sendSessionMessage(sessionId: $id, input: {content: $content}) {
			id authorId sessionStatus { renewalCount wasRenewed isNearExpiration expiresAt }
		}
	}`
	type gqlError struct {
		Message    string
		Extensions struct {
			Code    string
			Details map[string]any
		}
	}
	var out struct {
		Data struct {
			SendSessionMessage *struct {
				ID, AuthorID  string
				SessionStatus struct{ RenewalCount int }
			}
		}
		Errors []gqlError
	}
	srv.graphql(t, send, map[string]any{"id": sessionID, "content": "hello"}, &out)
	if len(out.Errors) > 0 || out.Data.SendSessionMessage == nil || out.Data.SendSessionMessage.SessionStatus.RenewalCount != 1 {
		t.Fatalf("send: %+v", out)
	}
	for _, tc := range []struct {
		id, content, code, message string
	}{
		{"abc-123", "hi", "SESSION_NOT_FOUND", "Session not found"},
		{sessionID, strings.Repeat("a", 4001), "VALIDATION_ERROR", "Content exceeds maximum length of 4000 characters"},
		{sessionID, "", "VALIDATION_ERROR", "Content cannot be empty"},
	} {
		out.Errors = nil
		srv.graphql(t, send, map[string]any{"id": tc.id, "content": tc.content}, &out)
		if len(out.Errors) != 1 || out.Errors[0].Extensions.Code != tc.code || out.Errors[0].Message != tc.message {
			t.Errorf("%s: errors %+v, want %s %q", tc.code, out.Errors, tc.code, tc.message)
		}
	}
}

// TestConcurrentSendsAcrossReplicas runs two server processes on one
// PostgreSQL database (started together, so their migrations race too) and
// sends concurrently through both: every send renews exactly once.
func TestConcurrentSendsAcrossReplicas(t *testing.T) {
	dbURL := testutil.DatabaseURL(t, store.Postgres)
	replicas := make([]*server, 2)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { replicas[i] = startServer(t, dbURL) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	agentID := replicas[0].createAgent(t)

	run := func(t *testing.T, sessions, sendsPerSession int) {
		ids := make([]string, sessions)
		for i := range ids {
			ids[i] = replicas[i%2].createSession(t, agentID, userID)
		}
		counts := make([][]int, sessions)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for s := range sessions {
			for n := range sendsPerSession {
				wg.Go(func() {
					res := replicas[n%2].postJSON(t, "/api/messaging/sessions/"+ids[s]+"/messages",
						map[string]any{"content": fmt.Sprintf("message %d", n)})
					if res.Status != http.StatusCreated {
						t.Errorf("send %d to session %d: %d %s", n, s, res.Status, res.Body)
						return
					}
					var body struct{ SessionStatus struct{ RenewalCount int } }
					if err := json.Unmarshal(res.Body, &body); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					counts[s] = append(counts[s], body.SessionStatus.RenewalCount)
					mu.Unlock()
				})
			}
		}
		wg.Wait()

		db := openDatabase(t, dbURL)
		for s, id := range ids {
			slices.Sort(counts[s])
			for i, c := range counts[s] {
				if c != i+1 {
					t.Fatalf("session %d: renewal counts reported %v, want 1..%d each once", s, counts[s], sendsPerSession)
				}
			}
			var stored struct {
				RenewalCount int
				Messages     int
			}
			db.DB().Raw(`SELECT renewal_count, (SELECT count(*) FROM messages WHERE session_id = sessions.id) AS messages
				FROM sessions WHERE id = ?`, id).Scan(&stored)
			if stored.RenewalCount != sendsPerSession || stored.Messages != sendsPerSession {
				t.Errorf("session %d: renewal_count %d and %d messages stored, want %d of each",
					s, stored.RenewalCount, stored.Messages, sendsPerSession)
			}
		}
	}
	t.Run("64 sends to one session", func(t *testing.T) { run(t, 1, 64) })
	t.Run("8 sessions x 16 sends", func(t *testing.T) { run(t, 8, 16) })
}

// TestHealthAndReadiness checks the probes of a running server.
func TestHealthAndReadiness(t *testing.T) {
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite))
	for _, path := range []string{"/healthz", "/readyz"} {
		if res := srv.do(t, "GET", path, "", ""); res.Status != http.StatusOK {
			t.Errorf("%s: %d %s", path, res.Status, res.Body)
		}
	}
}

// TestServesOpenAPI: the running server serves the shim's OpenAPI document
// (kept true by internal/rest's TestOpenAPI) at /openapi.json.
func TestServesOpenAPI(t *testing.T) {
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite))
	res := srv.do(t, "GET", "/openapi.json", "", "")
	want, err := os.ReadFile(repoPath("internal", "rest", "openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusOK || res.Header.Get("Content-Type") != "application/json" || !bytes.Equal(res.Body, want) {
		t.Errorf("/openapi.json: %d %q, want 200 application/json with internal/rest/openapi.json", res.Status, res.Header.Get("Content-Type"))
	}
}

// TestJSONAnswerHeaders: every JSON answer, success or error, of REST,
// GraphQL and the probes says X-Content-Type-Options: nosniff, and every
// REST error (and every GraphQL refusal before execution) Cache-Control: no-store.
func TestJSONAnswerHeaders(t *testing.T) {
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite))
	agentID := srv.createAgent(t)
	sessionID := srv.createSession(t, agentID, userID)
	query := `{"query":"{ __typename }"}`
	cases := []struct {
		name, method, path, contentType, body string
		status                                int
	}{
		{"REST create", "POST", "/api/messaging/sessions", "application/json", `{"agentId":"` + agentID + `","userId":"` + userID + `"}`, 201},
		{"REST send", "POST", "/api/messaging/sessions/" + sessionID + "/messages", "application/json", `{"content":"hi"}`, 201},
		{"REST info", "GET", "/api/messaging/sessions/" + sessionID, "", "", 200},
		{"REST list", "GET", "/api/messaging/sessions", "", "", 200},
		{"REST 404", "GET", "/api/messaging/sessions/" + testutil.MustUUID(), "", "", 404},
		{"REST 400", "POST", "/api/messaging/sessions/" + sessionID + "/messages", "application/json", `{"content":""}`, 400},
		{"REST 415", "POST", "/api/messaging/sessions/" + sessionID + "/messages", "", `{"content":"a"}`, 415},
		{"GraphQL POST", "POST", "/query", "application/json", query, 200},
		{"GraphQL GET", "GET", "/query?query=%7B__typename%7D", "", "", 200},
		{"GraphQL 413", "POST", "/query", "application/json", `{"query":"` + strings.Repeat("a", 140000) + `"}`, 413},
		{"readyz", "GET", "/readyz", "", "", 200},
		{"healthz", "GET", "/healthz", "", "", 200},
		{"openapi", "GET", "/openapi.json", "", "", 200},
	}
	for _, tc := range cases {
		res := srv.do(t, tc.method, tc.path, tc.contentType, tc.body)
		if res.Status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, res.Status, res.Body, tc.status)
			continue
		}
		if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff", tc.name, got)
		}
		if got := res.Header.Get("Cache-Control"); tc.status >= 400 && got != "no-store" {
			t.Errorf("%s: error answer with Cache-Control %q, want no-store", tc.name, got)
		}
	}
}
