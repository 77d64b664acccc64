package e2e

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

// TestFailedAuthenticationLockout: with AUTH_FAILURES_PER_MINUTE=3, three
// failed authentications from one address — over REST, GraphQL and a
// WebSocket's connection_init alike — lock it out: further guesses get 429
// + Retry-After (RATE_LIMITED; WebSockets close 4429), even a right guess,
// while callers with good credentials are not slowed: an API key already
// used from this address, and any valid JWT.
func TestFailedAuthenticationLockout(t *testing.T) {
	const unusedKey = "second-admin-key-never-used"
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite), "AUTH_API_KEYS="+testAPIKey+","+unusedKey,
		"AUTH_JWT_HS256_SECRET="+testJWTSecret, "AUTH_FAILURES_PER_MINUTE=3", "RATE_LIMIT_PER_MINUTE=0")
	list := "/api/messaging/sessions"
	query := graphqlBody(`{ sessions(first: 1) { nodes { id } } }`, nil)
	if res := srv.as(t, testAPIKey, "GET", list, ""); res.Status != http.StatusOK {
		t.Fatalf("good key: %d %s", res.Status, res.Body)
	}

	// Three failures, one per transport.
	if _, err := dialWS(t, srv, map[string]any{"X-API-KEY": "guess-1"}); websocket.CloseStatus(err) != 4403 {
		t.Fatalf("WebSocket guess: %v, want 4403", err)
	}
	if res := srv.as(t, "guess-2", "GET", list, ""); res.Status != http.StatusUnauthorized {
		t.Fatalf("REST guess: %d %s, want 401", res.Status, res.Body)
	}
	if res := srv.as(t, "guess-3", "POST", "/query", query); res.Status != http.StatusUnauthorized {
		t.Fatalf("GraphQL guess: %d %s, want 401", res.Status, res.Body)
	}

	// Locked out: every further guess, over every transport.
	for _, tc := range []struct{ name, credential, method, path, body string }{
		{"REST guess", "guess-4", "GET", list, ""},
		{"GraphQL guess", "guess-5", "POST", "/query", query},
		{"REST right guess of an unused key", unusedKey, "GET", list, ""},
		{"REST bad JWT", token(t, "user", uuid.New()) + "x", "GET", list, ""},
	} {
		res := srv.as(t, tc.credential, tc.method, tc.path, tc.body)
		if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" ||
			!strings.Contains(string(res.Body), `"code":"RATE_LIMITED"`) {
			t.Errorf("%s: %d Retry-After=%q %s, want 429 RATE_LIMITED with Retry-After", tc.name, res.Status, res.Header.Get("Retry-After"), res.Body)
		}
	}
	_, err := dialWS(t, srv, map[string]any{"X-API-KEY": "guess-6"})
	var closeErr websocket.CloseError
	if !asCloseError(err, &closeErr) || closeErr.Code != 4429 || !strings.HasPrefix(closeErr.Reason, "Too many failed authentications") {
		t.Errorf("WebSocket guess while locked out: %v, want close 4429", err)
	}

	// Good credentials go through all the while.
	userToken := token(t, "user", uuid.New())
	for _, tc := range []struct{ name, credential, method, path, body string }{
		{"REST known key", testAPIKey, "GET", list, ""},
		{"GraphQL known key", testAPIKey, "POST", "/query", query},
		{"REST fresh JWT", userToken, "GET", list, ""},
		{"GraphQL fresh JWT", userToken, "POST", "/query", query},
	} {
		if res := srv.as(t, tc.credential, tc.method, tc.path, tc.body); res.Status != http.StatusOK || strings.Contains(string(res.Body), `"errors"`) {
			t.Errorf("%s while the address is locked out: %d %s, want 200", tc.name, res.Status, res.Body)
		}
	}
	for name, payload := range map[string]map[string]any{
		"known key": {"X-API-KEY": testAPIKey},
		"fresh JWT": {"Authorization": "Bearer " + userToken},
	} {
		if _, err := dialWS(t, srv, payload); err != nil {
			t.Errorf("WebSocket with a %s while the address is locked out: %v", name, err)
		}
	}
}

func asCloseError(err error, target *websocket.CloseError) bool {
	return errors.As(err, target)
}
