package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"sessionhub/internal/testutil"
)

// TestReadReplicasServeReadsAndReadYourWrites runs the binary with
// DATABASE_READ_URLS naming a real streaming standby of a private primary.
// With the standby's replay paused, a caller's send is answered and its own
// history shows the message (primary), while another caller's history comes
// from the standby and does not have it yet; once replay resumes it does.
// With the standby stopped, reads keep working.
func TestReadReplicasServeReadsAndReadYourWrites(t *testing.T) {
	primary := testutil.StartCluster(t)
	standby := primary.StartStandby()
	const writerKey, readerKey = "replica-writer-key", "replica-reader-key"
	srv := startServer(t, primary.URL(), "DATABASE_READ_URLS="+standby.URL(), "DATABASE_READ_MAX_LAG_MS=600000",
		"AUTH_API_KEYS="+writerKey+","+readerKey, "RATE_LIMIT_PER_MINUTE=0")

	as := func(key, method, path, body string) response {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-API-KEY", key)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return response{Status: res.StatusCode, Header: res.Header, Body: b}
	}
	res := as(writerKey, http.MethodPost, "/query", `{"query":"mutation { createAgent(input: {name: \"Eliza\"}) { id } }"}`)
	var agent struct {
		Data struct{ CreateAgent struct{ ID string } }
	}
	if err := json.Unmarshal(res.Body, &agent); err != nil || agent.Data.CreateAgent.ID == "" {
		t.Fatalf("createAgent: %d %s", res.Status, res.Body)
	}
	res = as(writerKey, http.MethodPost, "/api/messaging/sessions", `{"agentId":"`+agent.Data.CreateAgent.ID+`","userId":"`+userID+`"}`)
	var created struct{ SessionID string }
	if err := json.Unmarshal(res.Body, &created); err != nil || res.Status != http.StatusCreated {
		t.Fatalf("create session: %d %s", res.Status, res.Body)
	}
	historyPath := "/api/messaging/sessions/" + created.SessionID + "/messages"
	history := func(key string) int {
		t.Helper()
		res := as(key, http.MethodGet, historyPath, "")
		if res.Status != http.StatusOK {
			t.Fatalf("history: %d %s", res.Status, res.Body)
		}
		var page struct{ Messages []json.RawMessage }
		if err := json.Unmarshal(res.Body, &page); err != nil {
			t.Fatal(err)
		}
		return len(page.Messages)
	}
	standbyReads := func() float64 { return metricValue(t, srv, `sessionhub_database_reads_total{target="standby"}`) }

	waitUntil(t, "the reader's history to be served by the standby", func() bool {
		before := standbyReads()
		return history(readerKey) == 0 && standbyReads() > before
	})
	execOn(t, standby, "SELECT pg_wal_replay_pause()")
	waitUntil(t, "replay to pause", func() bool { return queryOn(t, standby, "SELECT pg_get_wal_replay_pause_state()") == "paused" })

	res = as(writerKey, http.MethodPost, historyPath, `{"content":"written while the standby is paused"}`)
	if res.Status != http.StatusCreated {
		t.Fatalf("send: %d %s", res.Status, res.Body)
	}
	if got := history(writerKey); got != 1 {
		t.Errorf("the writer's history right after its send: %d messages, want 1 (read your writes)", got)
	}
	before := standbyReads()
	if got := history(readerKey); got != 0 || standbyReads() <= before {
		t.Errorf("another caller's history: %d messages (standby reads %v → %v), want 0 from the paused standby", got, before, standbyReads())
	}

	execOn(t, standby, "SELECT pg_wal_replay_resume()")
	waitUntil(t, "the reader to see the message once replay resumes", func() bool { return history(readerKey) == 1 })

	standby.Stop()
	for i := range 10 {
		if got := history(readerKey); got != 1 {
			t.Fatalf("history %d with the standby stopped: %d messages, want 1", i, got)
		}
	}
	if !strings.Contains(srv.stderr.String(), "read replica") {
		t.Errorf("no log line about the read replica going away:\n%s", srv.stderr.String())
	}
}

// metricValue reads one series from /metrics (0 when absent).
func metricValue(t *testing.T, srv *server, series string) float64 {
	t.Helper()
	res := srv.do(t, http.MethodGet, "/metrics", "", "")
	for line := range strings.SplitSeq(string(res.Body), "\n") {
		if value, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	return 0
}

func queryOn(t *testing.T, c *testutil.Cluster, query string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var out string
	if err := conn.QueryRow(ctx, query+"::text").Scan(&out); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

func execOn(t *testing.T, c *testutil.Cluster, query string) { queryOn(t, c, query) }

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
