package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

const (
	testAPIKey    = "admin-key-for-tests"
	testJWTSecret = "hs256-secret-for-tests"
)

func token(t *testing.T, role string, sub uuid.UUID) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub.String(), "role": role, "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(testJWTSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// as sends a request with the given credentials ("" sends none).
func (s *server) as(t *testing.T, credential, method, path, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case credential == testAPIKey:
		req.Header.Set("X-API-KEY", credential)
	case credential != "":
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

func graphqlBody(query string, vars map[string]any) string {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return string(b)
}

// TestAuthorizationMatrix checks every role against its own and another's
// session, over REST and GraphQL.
func TestAuthorizationMatrix(t *testing.T) {
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite),
		"AUTH_API_KEYS="+testAPIKey, "AUTH_JWT_HS256_SECRET="+testJWTSecret, "RATE_LIMIT_PER_MINUTE=0")
	userA, userB, agentX, agentY := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	for _, agent := range []uuid.UUID{agentX, agentY} {
		res := srv.as(t, testAPIKey, "POST", "/query", graphqlBody(`mutation($id: ID) { createAgent(input: {id: $id, name: "a"}) { id } }`, map[string]any{"id": agent.String()}))
		if res.Status != 200 || strings.Contains(string(res.Body), "errors") {
			t.Fatalf("createAgent: %d %s", res.Status, res.Body)
		}
	}
	openAs := func(credential string, agent, user uuid.UUID) string {
		res := srv.as(t, credential, "POST", "/api/messaging/sessions", `{"agentId":"`+agent.String()+`","userId":"`+user.String()+`"}`)
		if res.Status != http.StatusCreated {
			t.Fatalf("create session: %d %s", res.Status, res.Body)
		}
		var out struct{ SessionID, UserID string }
		_ = json.Unmarshal(res.Body, &out)
		return out.SessionID
	}

	t.Run("a user opens sessions for itself only", func(t *testing.T) {
		userToken := token(t, "user", userA)
		create := `mutation($a: ID!, $u: ID!) { createSession(input: {agentId: $a, userId: $u}) { userId } }`
		for _, tc := range []struct {
			name, userID string
			rest         int
			code         string // GraphQL extensions.code; "" = created
		}{
			{"own id", userA.String(), http.StatusCreated, ""},
			{"another user's id", userB.String(), http.StatusForbidden, "FORBIDDEN"},
			{"malformed id", "not-a-uuid", http.StatusBadRequest, "VALIDATION_ERROR"},
		} {
			res := srv.as(t, userToken, "POST", "/api/messaging/sessions", `{"agentId":"`+agentX.String()+`","userId":"`+tc.userID+`"}`)
			if res.Status != tc.rest || (tc.code != "" && !strings.Contains(string(res.Body), `"code":"`+tc.code+`"`)) ||
				(tc.code == "" && !strings.Contains(string(res.Body), `"userId":"`+userA.String()+`"`)) {
				t.Errorf("REST %s: %d %s, want %d %s", tc.name, res.Status, res.Body, tc.rest, tc.code)
			}
			res = srv.as(t, userToken, "POST", "/query", graphqlBody(create, map[string]any{"a": agentX.String(), "u": tc.userID}))
			body := string(res.Body)
			if tc.code == "" && !strings.Contains(body, `"userId":"`+userA.String()+`"`) ||
				tc.code != "" && !strings.Contains(body, `"code":"`+tc.code+`"`) {
				t.Errorf("GraphQL %s: %d %s, want %s", tc.name, res.Status, body, tc.code)
			}
		}
	})

	credentials := map[string]string{
		"admin key": testAPIKey,
		"admin jwt": token(t, "admin", uuid.New()),
		"user A":    token(t, "user", userA),
		"user B":    token(t, "user", userB),
		"agent X":   token(t, "agent", agentX),
		"agent Y":   token(t, "agent", agentY),
	}
	// Whose session (user A with agent X) each principal may reach.
	mayReach := map[string]bool{"admin key": true, "admin jwt": true, "user A": true, "user B": false, "agent X": true, "agent Y": false}

	type operation struct {
		name, method, path, body string
		ok                       int
		graphql                  bool
	}
	ops := func(id string) []operation {
		sessionVar := map[string]any{"id": id}
		return []operation{
			{"REST info", "GET", "/api/messaging/sessions/" + id, "", 200, false},
			{"REST send", "POST", "/api/messaging/sessions/" + id + "/messages", `{"content":"hello"}`, 201, false},
			{"REST history", "GET", "/api/messaging/sessions/" + id + "/messages", "", 200, false},
			{"REST renew", "POST", "/api/messaging/sessions/" + id + "/renew", "", 200, false},
			{"REST heartbeat", "POST", "/api/messaging/sessions/" + id + "/heartbeat", "", 200, false},
			{"REST timeout", "PATCH", "/api/messaging/sessions/" + id + "/timeout", `{"timeoutMinutes":45}`, 200, false},
			{"GraphQL session", "POST", "/query", graphqlBody(`query($id: ID!) { session(id: $id) { id } }`, sessionVar), 200, true},
			{"GraphQL send", "POST", "/query", graphqlBody(`mutation($id: ID!) { sendSessionMessage(sessionId: $id, input: {content: "hi"}) { id isAgent } }`, sessionVar), 200, true},
			{"GraphQL heartbeat", "POST", "/query", graphqlBody(`mutation($id: ID!) { sessionHeartbeat(sessionId: $id) { id } }`, sessionVar), 200, true},
			{"GraphQL messages", "POST", "/query", graphqlBody(`query($id: ID!) { session(id: $id) { messages(first: 5) { nodes { id } } } }`, sessionVar), 200, true},
		}
	}

	for who, credential := range credentials {
		t.Run(who, func(t *testing.T) {
			id := openAs(testAPIKey, agentX, userA)
			for _, op := range ops(id) {
				res := srv.as(t, credential, op.method, op.path, op.body)
				body := string(res.Body)
				switch {
				case op.graphql && mayReach[who]:
					if res.Status != 200 || strings.Contains(body, `"errors"`) || strings.Contains(body, `"session":null`) {
						t.Errorf("%s: %d %s, want data", op.name, res.Status, body)
					}
				case op.graphql: // another's session looks unknown: null, or SESSION_NOT_FOUND
					if res.Status != 200 || !(strings.Contains(body, `"session":null`) || strings.Contains(body, `"SESSION_NOT_FOUND"`)) {
						t.Errorf("%s: %d %s, want null or SESSION_NOT_FOUND", op.name, res.Status, body)
					}
				case mayReach[who]:
					if res.Status != op.ok {
						t.Errorf("%s: %d %s, want %d", op.name, res.Status, body, op.ok)
					}
				default:
					want := `{"error":"Session not found","details":{"sessionId":"` + id + `"},"code":"SESSION_NOT_FOUND"}` + "\n"
					if res.Status != 404 || body != want {
						t.Errorf("%s: %d %s, want exactly the unknown-session 404", op.name, res.Status, body)
					}
				}
			}
			// An agent's send is an agent message; everyone else's is the user's.
			res := srv.as(t, credential, "POST", "/query", graphqlBody(`mutation($id: ID!) { sendSessionMessage(sessionId: $id, input: {content: "who am I"}) { isAgent authorId } }`, map[string]any{"id": id}))
			if mayReach[who] {
				wantAgent := strings.HasPrefix(who, "agent")
				if got := strings.Contains(string(res.Body), `"isAgent":true`); got != wantAgent {
					t.Errorf("isAgent %v for %s: %s", got, who, res.Body)
				}
			}
			// Delete last: only those who may reach it can.
			del := srv.as(t, credential, "DELETE", "/api/messaging/sessions/"+id, "")
			if want := map[bool]int{true: 200, false: 404}[mayReach[who]]; del.Status != want {
				t.Errorf("delete: %d %s, want %d", del.Status, del.Body, want)
			}
		})
	}

	t.Run("lists show only what the caller may reach", func(t *testing.T) {
		openAs(testAPIKey, agentY, userB)
		for who, wantSelf := range map[string]string{"user B": userB.String(), "agent Y": agentY.String()} {
			res := srv.as(t, credentials[who], "GET", "/api/messaging/sessions", "")
			var out struct {
				Sessions []struct{ UserID, AgentID string }
			}
			if err := json.Unmarshal(res.Body, &out); err != nil || res.Status != 200 || len(out.Sessions) == 0 {
				t.Fatalf("%s list: %d %s", who, res.Status, res.Body)
			}
			for _, s := range out.Sessions {
				if s.UserID != wantSelf && s.AgentID != wantSelf {
					t.Errorf("%s sees a session of user %s / agent %s", who, s.UserID, s.AgentID)
				}
			}
		}
	})

	t.Run("only admins register agents; users cannot author agent messages", func(t *testing.T) {
		res := srv.as(t, credentials["user A"], "POST", "/query", graphqlBody(`mutation { createAgent(input: {name: "mine"}) { id } }`, nil))
		if !strings.Contains(string(res.Body), `"FORBIDDEN"`) {
			t.Errorf("user createAgent: %s", res.Body)
		}
		id := openAs(credentials["user A"], agentX, userA)
		res = srv.as(t, credentials["user A"], "POST", "/query", graphqlBody(`mutation($id: ID!) { sendAgentMessage(sessionId: $id, input: {content: "I am the agent"}) { id } }`, map[string]any{"id": id}))
		if !strings.Contains(string(res.Body), `"FORBIDDEN"`) {
			t.Errorf("user sendAgentMessage: %s", res.Body)
		}
		res = srv.as(t, credentials["agent Y"], "POST", "/api/messaging/sessions", `{"agentId":"`+agentX.String()+`","userId":"`+userA.String()+`"}`)
		if res.Status != http.StatusForbidden {
			t.Errorf("agent opening a session for another agent: %d %s", res.Status, res.Body)
		}
	})

	t.Run("missing or bad credentials are 401 on every transport", func(t *testing.T) {
		for _, credential := range []string{"", "wrong-key", token(t, "user", userA) + "x"} {
			rest := srv.as(t, credential, "GET", "/api/messaging/sessions", "")
			if rest.Status != 401 || !strings.Contains(string(rest.Body), `"code":"UNAUTHENTICATED"`) {
				t.Errorf("REST with %q: %d %s", credential, rest.Status, rest.Body)
			}
			gql := srv.as(t, credential, "POST", "/query", graphqlBody(`{ sessions { nodes { id } } }`, nil))
			if gql.Status != 401 || !strings.Contains(string(gql.Body), `"code":"UNAUTHENTICATED"`) {
				t.Errorf("GraphQL with %q: %d %s", credential, gql.Status, gql.Body)
			}
		}
		if res := srv.as(t, "", "GET", "/healthz", ""); res.Status != 200 {
			t.Errorf("healthz needs no credentials: %d", res.Status)
		}
	})
}

func TestRateLimitAndProductionMode(t *testing.T) {
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite), "RATE_LIMIT_PER_MINUTE=3", "APP_ENV=production")
	for i := range 3 {
		if res := srv.do(t, "GET", "/api/messaging/sessions", "", ""); res.Status != 200 {
			t.Fatalf("request %d: %d %s", i, res.Status, res.Body)
		}
	}
	res := srv.do(t, "GET", "/api/messaging/sessions", "", "")
	if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || !strings.Contains(string(res.Body), `"code":"RATE_LIMITED"`) {
		t.Errorf("4th request: %d Retry-After=%q %s", res.Status, res.Header.Get("Retry-After"), res.Body)
	}

	prod := startServer(t, testutil.DatabaseURL(t, store.SQLite), "APP_ENV=production")
	if res := prod.do(t, "GET", "/", "", ""); res.Status != http.StatusNotFound {
		t.Errorf("playground in production: %d", res.Status)
	}
	res = prod.postJSON(t, "/query", map[string]any{"query": "{ __schema { types { name } } }"})
	// A document error: 200 for application/json (GraphQL over HTTP), never INTERNAL.
	if res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"code":"GRAPHQL_VALIDATION_FAILED"`) {
		t.Errorf("introspection in production: %d %s, want 200 GRAPHQL_VALIDATION_FAILED", res.Status, res.Body)
	}
	res = prod.do(t, "POST", "/query", "application/json", `{"query":"`+strings.Repeat(" ", 140000)+`{ __typename }"}`)
	if res.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized GraphQL body: %d %s", res.Status, res.Body)
	}
	if err := prod.stop(); err != nil {
		t.Fatal(err)
	}
	// Production logs JSON; a refused introspection is the client's doing.
	if logs := prod.stderr.String(); strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("production logged an error:\n%s", logs)
	}
}
