package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

// TestApolloClientCache drives real Apollo Client 4 (npm, pinned in
// examples/ts-client/package-lock.json), in development mode so that it
// prints its warnings, through the set-up of examples/ts-client/src/apollo.ts
// against the real binary (examples/ts-client/src/apollo-check.ts does the
// driving and checks each step itself): a send selecting session { … }
// updates the cached Session; paging through 120 messages with
// relayStylePagination sees each once; history reads keep every message's
// cached sessionStatus; all five event types arrive over graphql-ws and
// update the cached Session. Apollo must print no warning at all.
func TestApolloClientCache(t *testing.T) {
	dir := npmProject(t, repoPath("examples", "ts-client"), "the Apollo Client check",
		filepath.Join("node_modules", "@apollo", "client", "package.json"), filepath.Join("node_modules", ".bin", "tsc"),
		filepath.Join("node_modules", "ws", "package.json"))
	build := t.TempDir()
	linkTSClientModules(t, dir, build)
	writeTSClientFile(t, build, "package.json", `{"type": "module"}`)
	runTSClient(t, dir, filepath.Join(dir, "node_modules", ".bin", "tsc"), "-p", "tsconfig.clients.json", "--noEmit", "false", "--outDir", build, "--rootDir", ".")

	dbURL := testutil.DatabaseURL(t, store.SQLite)
	srv := startServer(t, dbURL)
	script := filepath.Join(build, "src", "apollo-check.js")

	summary, stderr, err := runApolloCheck(t, srv, dbURL, dir, script)
	if err != nil {
		t.Fatalf("apollo-check: %v\n%s", err, stderr)
	}
	if len(summary.Warnings) != 0 {
		t.Errorf("Apollo Client printed %d warnings, want none:\n%s", len(summary.Warnings), strings.Join(summary.Warnings, "\n"))
	}
	if !summary.SendUpdatedSession {
		t.Error("the send's session { … } did not update the cached Session")
	}
	if summary.Paged != 120 || summary.Distinct != 120 || summary.Pages != 5 {
		t.Errorf("paged %d messages (%d distinct) in %d pages, want 120 in 5", summary.Paged, summary.Distinct, summary.Pages)
	}
	if summary.StatusesKept != 120 {
		t.Errorf("%d messages kept their cached sessionStatus, want 120", summary.StatusesKept)
	}
	want := []string{"MessageAddedEvent", "SessionDeletedEvent", "SessionExpiredEvent", "SessionNearExpirationEvent", "SessionRenewedEvent"}
	if !slices.Equal(summary.EventTypes, want) || summary.ExpiredState != "EXPIRED" {
		t.Errorf("event types %v (cached state after expiry %s), want %v (EXPIRED)", summary.EventTypes, summary.ExpiredState, want)
	}

	t.Run("WithoutPossibleTypesWarns", func(t *testing.T) {
		// The same run with a cache that lacks possibleTypes: Apollo has to
		// guess which fragments on SessionEvent match, and warns, so the
		// count above is a real count of a real failure mode.
		summary, stderr, err := runApolloCheck(t, srv, dbURL, dir, script, "--without-possible-types")
		warnings := summary.Warnings
		if err != nil { // a failed check: the warnings so far are on stderr
			_, rest, _ := strings.Cut(stderr, "\nwarnings: ")
			_ = json.Unmarshal([]byte(strings.TrimSpace(rest)), &warnings)
		}
		if len(warnings) == 0 {
			t.Fatalf("no warning without possibleTypes (err %v):\n%s", err, stderr)
		}
		t.Logf("without possibleTypes: %d warnings, e.g. %q", len(warnings), warnings[0])
	})
}

type apolloSummary struct {
	Warnings           []string
	SendUpdatedSession bool
	Paged, Distinct    int
	Pages              int
	StatusesKept       int
	EventTypes         []string
	Events             int
	ExpiredState       string
}

// runApolloCheck runs apollo-check.js against srv, moving the followed
// session's expiry two seconds ahead when it asks, and returns its summary
// and its stderr.
func runApolloCheck(t *testing.T, srv *server, dbURL, dir, script string, args ...string) (apolloSummary, string, error) {
	t.Helper()
	db := openDatabase(t, dbURL)
	cmd := tsClientCommand(t, dir, "node", append([]string{"--conditions=development", script, srv.URL + "/query"}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var last string
	scanner := bufio.NewScanner(stdout)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		line := scanner.Text()
		if id, ok := strings.CutPrefix(line, "EXPIRE "); ok {
			// A short real lifetime: expiry in two seconds, well inside the
			// five-minute warning window, so the server announces both.
			expiresAt := time.Now().UTC().Add(2 * time.Second).Truncate(time.Millisecond)
			if err := db.DB().Exec("UPDATE sessions SET expires_at = ? WHERE id = ?", expiresAt, id).Error; err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(stdin, "go\n"); err != nil {
				t.Fatal(err)
			}
			continue
		}
		last = line
	}
	var summary apolloSummary
	if err := cmd.Wait(); err != nil {
		return summary, stderr.String(), err
	}
	if err := json.Unmarshal([]byte(last), &summary); err != nil {
		t.Fatalf("apollo-check printed %q: %v\n%s", last, err, stderr.String())
	}
	if len(summary.Warnings) > 0 {
		last = "(" + strconv.Itoa(len(summary.Warnings)) + " warnings)"
	}
	t.Logf("apollo-check %s: %v; %s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), last)
	return summary, stderr.String(), nil
}

// TestUrqlGraphcache runs examples/ts-client/src/urql-check.ts: urql with the
// Graphcache set-up of src/urql.ts (development build, every warning
// counted) against the real binary. Sends selecting session { … } update the
// cached Session, relayPagination merges three pages of Session.messages
// into the ten messages sent, and a renewal event moves the cached Session.
func TestUrqlGraphcache(t *testing.T) {
	dir := npmProject(t, repoPath("examples", "ts-client"), "the urql check",
		filepath.Join("node_modules", "@urql", "exchange-graphcache", "package.json"), filepath.Join("node_modules", ".bin", "tsc"),
		filepath.Join("node_modules", "ws", "package.json"))
	build := t.TempDir()
	linkTSClientModules(t, dir, build)
	writeTSClientFile(t, build, "package.json", `{"type": "module"}`)
	runTSClient(t, dir, filepath.Join(dir, "node_modules", ".bin", "tsc"), "-p", "tsconfig.clients.json", "--noEmit", "false", "--outDir", build, "--rootDir", ".")

	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite))
	start := time.Now()
	out := runTSClient(t, dir, "node", filepath.Join(build, "src", "urql-check.js"), srv.URL+"/query")
	t.Logf("urql-check: %v; %s", time.Since(start).Round(time.Millisecond), out)
	var summary struct {
		Warnings           []string
		SendUpdatedSession bool
		Paged, Pages       int
		Events             []string
	}
	if err := json.Unmarshal(out, &summary); err != nil {
		t.Fatalf("urql-check printed %q: %v", out, err)
	}
	if len(summary.Warnings) != 0 {
		t.Errorf("Graphcache printed %d warnings, want none:\n%s", len(summary.Warnings), strings.Join(summary.Warnings, "\n"))
	}
	if !summary.SendUpdatedSession || summary.Paged != 10 || summary.Pages != 3 || !slices.Contains(summary.Events, "SessionRenewedEvent") {
		t.Errorf("unexpected summary %s", out)
	}
}
