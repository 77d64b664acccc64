package e2e

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

// elizaOSCall is what one SessionsService call of examples/elizaos-client
// returned or threw.
type elizaOSCall struct {
	Returned  json.RawMessage `json:"returned"`
	Undefined bool            `json:"undefined"`
	Threw     *struct {
		Name, Code, Message string
		Status              int
		Details             *string
	} `json:"threw"`
}

// TestElizaOSClient drives the official elizaOS client, @elizaos/api-client
// 1.7.2 (pinned in examples/elizaos-client/package-lock.json), through every
// SessionsService method against the real binary, in both REST_COMPAT modes.
//
// Default mode (the documented bodies): calls whose body has no "success"
// key return the body, deleteSession returns undefined (its documented body
// has "success": true and no "data"), and every error becomes
// ApiError("HTTP_ERROR", "Unknown error") with the right status, because the
// client reads error.code and error.message from an object.
//
// REST_COMPAT=elizaos: every method returns its data, sendMessage the v1.7
// MessageResponse {success, userMessage, sessionStatus}, and errors are
// ApiError with the server's code and sentence.
func TestElizaOSClient(t *testing.T) {
	dir := npmProject(t, repoPath("examples", "elizaos-client"), "the elizaOS client test",
		filepath.Join("node_modules", "@elizaos", "api-client", "package.json"))

	run := func(t *testing.T, mode string) map[string]elizaOSCall {
		dbURL := testutil.DatabaseURL(t, store.SQLite)
		srv := startServer(t, dbURL, "REST_COMPAT="+mode)
		userID := testutil.MustUUID()
		var created struct {
			Data struct{ CreateSession struct{ ID string } }
		}
		srv.graphql(t, `mutation($a: ID!, $u: ID!) { createSession(input: {agentId: $a, userId: $u}) { id } }`,
			map[string]any{"a": srv.createAgent(t), "u": userID}, &created)
		expired := created.Data.CreateSession.ID
		if err := openDatabase(t, dbURL).DB().Exec("UPDATE sessions SET expires_at = ? WHERE id = ?",
			time.Now().UTC().Add(-time.Minute), expired).Error; err != nil {
			t.Fatal(err)
		}
		out := runTSClient(t, dir, "node", "sessions.mjs", srv.URL, srv.createAgent(t), userID, expired)
		seen := map[string]elizaOSCall{}
		if err := json.Unmarshal(out, &seen); err != nil {
			t.Fatalf("sessions.mjs printed %s: %v", out, err)
		}
		t.Logf("%s mode, what the client saw: %s", mode, out)
		return seen
	}
	// returned decodes what a call returned, failing if it threw or returned undefined.
	returned := func(t *testing.T, seen map[string]elizaOSCall, method string, into any) {
		t.Helper()
		call, ok := seen[method]
		switch {
		case !ok:
			t.Fatalf("%s was not called", method)
		case call.Threw != nil:
			t.Fatalf("%s threw %+v", method, *call.Threw)
		case call.Undefined:
			t.Fatalf("%s returned undefined", method)
		}
		if err := json.Unmarshal(call.Returned, into); err != nil {
			t.Fatalf("%s returned %s: %v", method, call.Returned, err)
		}
	}
	threw := func(t *testing.T, seen map[string]elizaOSCall, method, code, message string, status int) {
		t.Helper()
		call := seen[method]
		if call.Threw == nil {
			t.Fatalf("%s returned %s, want ApiError %s", method, call.Returned, code)
		}
		got := *call.Threw
		if got.Name != "ApiError" || got.Code != code || got.Message != message || got.Status != status {
			t.Errorf("%s threw %s(%q, %q) status %d, want ApiError(%q, %q) status %d",
				method, got.Name, got.Code, got.Message, got.Status, code, message, status)
		}
	}
	type sessionBody struct{ SessionID, AgentID, UserID, CreatedAt string }
	type sendBody struct {
		ID, Content   string
		UserMessage   *struct{ ID, Content, AuthorID, CreatedAt string }
		SessionStatus struct {
			RenewalCount int
			WasRenewed   bool
		}
	}
	commonReturns := func(t *testing.T, seen map[string]elizaOSCall) {
		var health struct{ Status string }
		returned(t, seen, "checkHealth", &health)
		var created, got sessionBody
		returned(t, seen, "createSession", &created)
		returned(t, seen, "getSession", &got)
		if created.SessionID == "" || got.SessionID != created.SessionID || health.Status != "healthy" {
			t.Errorf("health %q, created %+v, got %+v", health.Status, created, got)
		}
		var history struct {
			Messages []struct{ Content string }
			HasMore  bool
		}
		returned(t, seen, "getMessages", &history)
		if len(history.Messages) != 2 || history.Messages[0].Content != "again" || history.Messages[1].Content != "hello" {
			t.Errorf("getMessages = %+v, want again, hello", history)
		}
		var list struct {
			Sessions []sessionBody
			Total    int
		}
		returned(t, seen, "listSessions", &list)
		if list.Total != 1 || len(list.Sessions) != 1 || list.Sessions[0].SessionID != created.SessionID {
			t.Errorf("listSessions = %+v, want the one live session", list)
		}
	}

	t.Run("documented", func(t *testing.T) {
		seen := run(t, "documented")
		commonReturns(t, seen)
		var sent sendBody
		returned(t, seen, "sendMessage", &sent)
		if sent.ID == "" || sent.Content != "hello" || sent.UserMessage != nil || sent.SessionStatus.RenewalCount != 1 {
			t.Errorf("sendMessage = %+v, want the documented body", sent)
		}
		// What the documented bodies cost this client (README, REST_COMPAT).
		if call := seen["deleteSession"]; call.Threw != nil || !call.Undefined {
			t.Errorf("deleteSession: %+v; the documented body {success, message} unwraps to undefined", call)
		}
		for method, status := range map[string]int{
			"tooLong": http.StatusBadRequest, "getDeletedSession": http.StatusNotFound,
			"sendToDeletedSession": http.StatusNotFound, "sendToExpiredSession": http.StatusGone,
			"getExpiredMessages": http.StatusGone,
		} {
			threw(t, seen, method, "HTTP_ERROR", "Unknown error", status)
		}
	})

	t.Run("elizaos", func(t *testing.T) {
		seen := run(t, "elizaos")
		commonReturns(t, seen)
		for i, method := range []string{"sendMessage", "sendMessageSync"} {
			var sent sendBody
			returned(t, seen, method, &sent)
			if m := sent.UserMessage; m == nil || m.ID == "" || m.Content != []string{"hello", "again"}[i] ||
				sent.SessionStatus.RenewalCount != i+1 || !sent.SessionStatus.WasRenewed {
				t.Errorf("%s = %+v, want {success, userMessage, sessionStatus}", method, sent)
			}
		}
		var deleted struct {
			Success bool
			Message string
		}
		returned(t, seen, "deleteSession", &deleted)
		if !deleted.Success || !strings.HasSuffix(deleted.Message, "deleted successfully") {
			t.Errorf("deleteSession = %+v", deleted)
		}
		threw(t, seen, "tooLong", "VALIDATION_ERROR", "Content exceeds maximum length of 4000 characters", http.StatusBadRequest)
		threw(t, seen, "getDeletedSession", "SESSION_NOT_FOUND", "Session not found", http.StatusNotFound)
		threw(t, seen, "sendToDeletedSession", "SESSION_NOT_FOUND", "Session not found", http.StatusNotFound)
		threw(t, seen, "sendToExpiredSession", "SESSION_EXPIRED", "Session has expired", http.StatusGone)
		threw(t, seen, "getExpiredMessages", "SESSION_EXPIRED", "Session has expired", http.StatusGone)
	})
}

// TestRESTCompatElizaOSBody pins the raw error envelope of REST_COMPAT=elizaos.
func TestRESTCompatElizaOSBody(t *testing.T) {
	res := startServer(t, testutil.DatabaseURL(t, store.SQLite), "REST_COMPAT=elizaos").do(t, http.MethodGet, "/api/messaging/sessions/"+testutil.MustUUID(), "", "")
	want := `{"success":false,"error":{"code":"SESSION_NOT_FOUND","message":"Session not found","details":{"sessionId":`
	if res.Status != http.StatusNotFound || !strings.HasPrefix(string(res.Body), want) {
		t.Errorf("got %d %s, want 404 %s…", res.Status, res.Body, want)
	}
}
