package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

// load keeps sending messages to a few sessions from several workers and
// records every message the server acknowledged with 201.
type load struct {
	srv      *server
	sessions []string

	mu       sync.Mutex
	acked    []string
	statuses map[int]int
	failures atomic.Int64 // transport errors (refused or reset connections)

	stopped atomic.Bool
	wg      sync.WaitGroup
}

func startLoad(t *testing.T, srv *server, sessions []string, workers int) *load {
	l := &load{srv: srv, sessions: sessions, statuses: map[int]int{}}
	client := &http.Client{Timeout: 15 * time.Second}
	for w := range workers {
		l.wg.Go(func() {
			for n := 0; !l.stopped.Load(); n++ {
				sessionID := sessions[(w+n)%len(sessions)]
				body := fmt.Sprintf(`{"content":"worker %d message %d"}`, w, n)
				res, err := client.Post(srv.URL+"/api/messaging/sessions/"+sessionID+"/messages", "application/json", strings.NewReader(body))
				if err != nil {
					l.failures.Add(1)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				var out struct{ ID string }
				_ = json.NewDecoder(res.Body).Decode(&out)
				res.Body.Close()
				l.mu.Lock()
				l.statuses[res.StatusCode]++
				if res.StatusCode == http.StatusCreated {
					l.acked = append(l.acked, out.ID)
				}
				l.mu.Unlock()
				if res.StatusCode != http.StatusCreated {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	return l
}

func (l *load) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// waitFor waits until n more messages than now have been acknowledged.
func (l *load) waitFor(t *testing.T, n int, within time.Duration) {
	t.Helper()
	target := l.ackedCount() + n
	deadline := time.Now().Add(within)
	for l.ackedCount() < target {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d acknowledgements within %s (statuses %v)", l.ackedCount(), target, within, l.statusCounts())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *load) stop() {
	l.stopped.Store(true)
	l.wg.Wait()
}

func (l *load) statusCounts() map[int]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int]int{}
	for k, v := range l.statuses {
		out[k] = v
	}
	return out
}

// checkStored verifies that every acknowledged message is in the database.
func (l *load) checkStored(t *testing.T, dbURL string) {
	t.Helper()
	db := openDatabase(t, dbURL)
	var stored []string
	if err := db.DB().WithContext(context.Background()).Table("messages").Pluck("id", &stored).Error; err != nil {
		t.Fatal(err)
	}
	have := make(map[string]bool, len(stored))
	for _, id := range stored {
		have[id] = true
	}
	missing := 0
	for _, id := range l.acked {
		if !have[id] {
			missing++
		}
	}
	t.Logf("acknowledged %d messages, %d rows stored, %d acknowledged but missing; statuses %v, transport errors %d",
		len(l.acked), len(stored), missing, l.statusCounts(), l.failures.Load())
	if missing > 0 {
		t.Errorf("%d acknowledged messages were lost", missing)
	}
}

// proxiedDatabase makes a fresh PostgreSQL database and a TCP proxy in front
// of it; it returns the direct URL, the proxy, and the URL through the proxy.
func proxiedDatabase(t *testing.T) (string, *testutil.Proxy, string) {
	t.Helper()
	dbURL := testutil.DatabaseURL(t, store.Postgres)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testutil.NewProxy(t, u.Host)
	proxied := *u
	proxied.Host = proxy.Addr()
	return dbURL, proxy, proxied.String()
}

func openSessions(t *testing.T, srv *server, n int) []string {
	agent := srv.createAgent(t)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = srv.createSession(t, agent, userID)
	}
	return ids
}

// TestDatabaseOutageUnderLoad cuts the connection to PostgreSQL (through a
// TCP proxy) while messages are being sent, then restores it: requests fail
// fast with 503 meanwhile, readiness reports it, the server recovers by
// itself, and every acknowledged message is stored.
func TestDatabaseOutageUnderLoad(t *testing.T) {
	dbURL, proxy, proxied := proxiedDatabase(t)
	srv := startServer(t, proxied, "RATE_LIMIT_PER_MINUTE=0")
	l := startLoad(t, srv, openSessions(t, srv, 4), 8)
	defer l.stop()
	l.waitFor(t, 100, 20*time.Second)

	proxy.Cut()
	before := l.statusCounts()[http.StatusServiceUnavailable]
	deadline := time.Now().Add(10 * time.Second)
	for l.statusCounts()[http.StatusServiceUnavailable] < before+20 {
		if time.Now().After(deadline) {
			t.Fatalf("no 503s while the database was cut: %v", l.statusCounts())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if res := srv.do(t, "GET", "/readyz", "", ""); res.Status != http.StatusServiceUnavailable {
		t.Errorf("readyz during the outage: %d %s", res.Status, res.Body)
	}
	res := srv.postJSON(t, "/api/messaging/sessions/"+l.sessions[0]+"/messages", map[string]any{"content": "during outage"})
	if res.Status != http.StatusServiceUnavailable || !strings.Contains(string(res.Body), `"error":"The database is unavailable, retry shortly"`) {
		t.Errorf("send during the outage: %d %s", res.Status, res.Body)
	}

	proxy.Restore()
	l.waitFor(t, 100, 30*time.Second)
	l.stop()
	if res := srv.do(t, "GET", "/readyz", "", ""); res.Status != http.StatusOK {
		t.Errorf("readyz after recovery: %d %s", res.Status, res.Body)
	}
	for status, n := range l.statusCounts() {
		if status != http.StatusCreated && status != http.StatusServiceUnavailable {
			t.Errorf("%d responses with status %d; only 201 and 503 are acceptable", n, status)
		}
	}
	l.checkStored(t, dbURL)
}

// TestGracefulShutdownUnderLoad sends SIGTERM while messages are being sent:
// in-flight requests finish, the process exits 0, and every acknowledged
// message is stored.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	dbURL := testutil.DatabaseURL(t, store.Postgres)
	srv := startServer(t, dbURL, "RATE_LIMIT_PER_MINUTE=0")
	l := startLoad(t, srv, openSessions(t, srv, 4), 8)
	defer l.stop()
	l.waitFor(t, 200, 20*time.Second)
	if err := srv.stop(); err != nil {
		t.Fatalf("exit after SIGTERM under load: %v\n%s", err, srv.stderr.String())
	}
	l.stop()
	for status, n := range l.statusCounts() {
		if status != http.StatusCreated && status != http.StatusServiceUnavailable {
			t.Errorf("%d responses with status %d during shutdown", n, status)
		}
	}
	l.checkStored(t, dbURL)
}

// TestStalledDatabase: when PostgreSQL stops answering without closing its
// connections, requests fail with 503 within the request timeout instead of
// hanging, and service resumes when it answers again.
func TestStalledDatabase(t *testing.T) {
	_, proxy, proxied := proxiedDatabase(t)
	srv := startServer(t, proxied, "RATE_LIMIT_PER_MINUTE=0", "REQUEST_TIMEOUT_SECONDS=2")
	sessionID := openSessions(t, srv, 1)[0]
	path := "/api/messaging/sessions/" + sessionID + "/messages"

	proxy.Stall()
	start := time.Now()
	res := srv.postJSON(t, path, map[string]any{"content": "into the void"})
	if elapsed := time.Since(start); res.Status != http.StatusServiceUnavailable || elapsed > 5*time.Second {
		t.Errorf("send to a stalled database: %d %s after %s, want 503 within the 2s request timeout", res.Status, res.Body, elapsed)
	}
	if res := srv.do(t, "GET", "/readyz", "", ""); res.Status != http.StatusServiceUnavailable {
		t.Errorf("readyz with a stalled database: %d", res.Status)
	}
	proxy.Resume()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res := srv.postJSON(t, path, map[string]any{"content": "back"})
		if res.Status == http.StatusCreated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after the stall: %d %s", res.Status, res.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
