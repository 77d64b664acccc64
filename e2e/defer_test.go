package e2e

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sessionhub/internal/testutil"
)

// TestApolloDefer runs a query with a deferred fragment through Apollo
// Client 4 (examples/apollo-defer, pinned in its package-lock.json: HttpLink,
// multipart/mixed, Defer20220824Handler) against the real binary on both
// databases: the client first sees the session without its messages, still
// loading, then the messages merged in, done. Without Accept: multipart/mixed
// the same document is refused instead of half-answered.
func TestApolloDefer(t *testing.T) {
	dir := npmProject(t, repoPath("examples", "apollo-defer"), "the Apollo Client @defer test",
		filepath.Join("node_modules", "@apollo", "client", "package.json"))
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			srv := startServer(t, testutil.DatabaseURL(t, dialect))
			sessionID := srv.createSession(t, srv.createAgent(t), testutil.MustUUID())
			for _, content := range []string{"one", "two", "three"} {
				if res := srv.postJSON(t, "/api/messaging/sessions/"+sessionID+"/messages", map[string]any{"content": content}); res.Status != http.StatusCreated {
					t.Fatalf("send: %d %s", res.Status, res.Body)
				}
			}

			out := runTSClient(t, dir, "node", "defer.mjs", srv.URL+"/query", sessionID)
			var run struct {
				Emitted []apolloResult
			}
			if err := json.Unmarshal(out, &run); err != nil || len(run.Emitted) == 0 {
				t.Fatalf("defer.mjs printed %s: %v", out, err)
			}
			t.Logf("Apollo Client emitted: %s", out)
			last := run.Emitted[len(run.Emitted)-1]
			if last.Loading || last.Error != nil || last.Data == nil || last.Data.Session.Messages == nil {
				t.Fatalf("final result %+v, want loaded with the deferred messages", last)
			}
			var contents []string
			for _, e := range last.Data.Session.Messages.Edges {
				contents = append(contents, e.Node.Content)
			}
			if last.Data.Session.ID != sessionID || last.Data.Session.State != "ACTIVE" || !slices.Equal(contents, []string{"three", "two", "one"}) {
				t.Errorf("final data %+v (messages %q)", last.Data.Session, contents)
			}
			// The initial part arrived on its own first: the session without
			// the deferred field (not a null in its place: Apollo calls the
			// data "streaming", not "complete"), still loading.
			initial := slices.IndexFunc(run.Emitted, func(e apolloResult) bool {
				return e.Loading && e.DataState == "streaming" && e.Data != nil && e.Data.Session.ID == sessionID &&
					e.Data.Session.State == "ACTIVE" && e.Data.Session.Messages == nil
			})
			if initial < 0 {
				t.Errorf("no result before the deferred part: %s", out)
			}

			query := map[string]any{
				"query":     `query($id: ID!) { session(id: $id) { id ... @defer { state } } }`,
				"variables": map[string]any{"id": sessionID},
			}
			// A document error: 200 as application/json (GraphQL over HTTP).
			res := srv.postJSON(t, "/query", query)
			if res.Status != http.StatusOK || !strings.Contains(string(res.Body), "Accept: multipart/mixed") ||
				!strings.Contains(string(res.Body), `"code":"GRAPHQL_VALIDATION_FAILED"`) || strings.Contains(string(res.Body), `"data"`) {
				t.Errorf("@defer without multipart/mixed: %d %s, want 200 GRAPHQL_VALIDATION_FAILED naming multipart/mixed, no data", res.Status, res.Body)
			}
		})
	}
}

// apolloResult is one result Apollo Client's query observable emitted.
type apolloResult struct {
	Loading   bool
	DataState string
	Data      *struct {
		Session struct {
			ID       string
			State    string
			Messages *struct {
				Edges []struct{ Node struct{ Content string } }
			}
		}
	}
	Error *string
}
