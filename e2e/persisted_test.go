package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

// apq posts an automatic persisted query: the hash alone when query is "",
// else the document with its hash (a registration).
func (s *server) apq(t *testing.T, hash, query string) (status int, body apqAnswer) {
	t.Helper()
	req := map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}}
	if query != "" {
		req["query"] = query
	}
	res := s.postJSON(t, "/query", req)
	if err := json.Unmarshal(res.Body, &body); err != nil {
		t.Fatalf("APQ answer %d %s: %v", res.Status, res.Body, err)
	}
	return res.Status, body
}

type apqAnswer struct {
	Data   map[string]any
	Errors []struct {
		Message    string
		Extensions struct{ Code string }
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestPersistedQueriesShared registers 150 persisted queries on one replica
// and finds every one of them, the 1st included, on another replica of the
// same PostgreSQL database — and, on SQLite, on the process that replaces
// the first. Before, the cache was per process and held 100 entries.
func TestPersistedQueriesShared(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			dbURL := testutil.DatabaseURL(t, dialect)
			first := startServer(t, dbURL)
			const n = 150
			queries := make([]string, n)
			for i := range queries {
				queries[i] = fmt.Sprintf("query Registered%d { __typename }", i)
				if status, ans := first.apq(t, sha256Hex(queries[i]), queries[i]); status != http.StatusOK || len(ans.Errors) > 0 {
					t.Fatalf("registering query %d: %d %+v", i, status, ans)
				}
			}
			other := first
			if dialect == store.Postgres {
				other = startServer(t, dbURL) // a second replica, running beside the first
			} else {
				if err := first.stop(); err != nil {
					t.Fatal(err)
				}
				other = startServer(t, dbURL) // the process that replaces it
			}
			unknown := "query NeverRegistered { __typename }"
			if _, ans := other.apq(t, sha256Hex(unknown), ""); len(ans.Errors) != 1 || ans.Errors[0].Extensions.Code != "PERSISTED_QUERY_NOT_FOUND" {
				t.Fatalf("an unregistered hash: %+v, want PERSISTED_QUERY_NOT_FOUND", ans)
			}
			for _, i := range []int{0, 1, 99, 100, n - 1} {
				status, ans := other.apq(t, sha256Hex(queries[i]), "")
				if status != http.StatusOK || len(ans.Errors) > 0 || ans.Data["__typename"] != "Query" {
					t.Errorf("query %d by hash on the other process: %d %+v", i+1, status, ans)
				}
			}
			if dialect == store.Postgres {
				status, ans := first.apq(t, sha256Hex(queries[0]), "")
				if status != http.StatusOK || len(ans.Errors) > 0 {
					t.Errorf("the 1st query by hash on the replica that registered it: %d %+v", status, ans)
				}
			}
		})
	}
}
