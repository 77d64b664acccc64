package e2e

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/internal/testutil/natsserver"
)

// These tests run replicas with NATS_URL pointing at a real NATS server,
// embedded in the test process.

// natsMaxPayload is the NATS server's largest message in these tests, low
// enough that a large chat message travels by id.
const natsMaxPayload = 8 << 10

// startNATSReplicas starts n replicas on one database, their events over NATS.
func startNATSReplicas(t *testing.T, n int, dbURL string, nats *natsserver.Server) []*server {
	t.Helper()
	var replicas []*server
	for range n {
		replicas = append(replicas, startServer(t, dbURL, "RATE_LIMIT_PER_MINUTE=0", "NATS_URL="+nats.URL()))
	}
	return replicas
}

// TestNATSCrossReplicaDelivery: three replicas on one PostgreSQL, events
// over NATS. A subscriber on the first hears every message the two others
// store while sending at once, exactly once each and in order; a message
// too large for a NATS message arrives whole; and the events did travel
// over NATS.
func TestNATSCrossReplicaDelivery(t *testing.T) {
	dbURL := testutil.DatabaseURL(t, store.Postgres)
	nats := natsserver.Start(t, natsserver.MaxPayload(natsMaxPayload))
	replicas := startNATSReplicas(t, 3, dbURL, nats)
	a, senders := replicas[0], replicas[1:]
	sessionID := a.createSession(t, a.createAgent(t), userID)
	sub, err := dialWS(t, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	sub.subscribe(t, "1", messagesQuery, map[string]any{"id": sessionID})
	waitSubscribed(t, sub, senders[0], sessionID)
	f := follow(t, sub)
	skip := len(storedMessageIDs(t, dbURL, sessionID)) // the probes
	published := nats.Messages()

	const perSender = 150
	var wg sync.WaitGroup
	for i, srv := range senders {
		wg.Go(func() {
			for n := range perSender {
				if status, _ := sendMessage(t, srv, sessionID, fmt.Sprintf("r%d-m%d", i, n)); status != http.StatusCreated {
					t.Errorf("send %d through replica %d: %d", n, i+1, status)
					return
				}
			}
		})
	}
	wg.Wait()
	big := strings.Repeat("😀", 4000)
	if res := senders[0].postJSON(t, "/api/messaging/sessions/"+sessionID+"/messages", map[string]any{"content": big}); res.Status != http.StatusCreated {
		t.Fatalf("large send: %d %s", res.Status, res.Body)
	}
	stored := storedMessageIDs(t, dbURL, sessionID)[skip:]
	if len(stored) != 2*perSender+1 {
		t.Fatalf("%d messages stored, want %d", len(stored), 2*perSender+1)
	}
	f.waitFor(t, stored)
	f.mu.Lock()
	got := f.messages[len(f.messages)-1].Message.Content
	f.mu.Unlock()
	if got != big {
		t.Errorf("the large message arrived with %d bytes of content, want %d", len(got), len(big))
	}
	if sent := nats.Messages() - published; sent < int64(len(stored)) {
		t.Errorf("%d messages went through NATS for %d sends: events did not travel over NATS", sent, len(stored))
	}
}

// TestNATSLifetimeEventsOncePerReplicaSet: with events over NATS, a session
// that expires for real is announced once across three replicas, and the
// subscriber on each hears the warning and the expiry exactly once.
func TestNATSLifetimeEventsOncePerReplicaSet(t *testing.T) {
	dbURL := testutil.DatabaseURL(t, store.Postgres)
	nats := natsserver.Start(t)
	replicas := startNATSReplicas(t, 3, dbURL, nats)
	sessionID := replicas[0].createSession(t, replicas[0].createAgent(t), userID)
	subs := make([]*wsClient, len(replicas))
	for i, srv := range replicas {
		sub, err := dialWS(t, srv, nil)
		if err != nil {
			t.Fatal(err)
		}
		sub.subscribe(t, "1", eventsQuery, map[string]any{"id": sessionID})
		waitSubscribed(t, sub, replicas[(i+1)%len(replicas)], sessionID)
		subs[i] = sub
	}
	expectLifetimeNoticesOnce(t, dbURL, sessionID, subs)
}

// TestSubscribersMissNothingWhenNATSRestarts: the NATS server goes down
// while replica B stores messages and comes back; nothing is sent after, so
// no later message reveals a gap. The subscriber on replica A still receives
// every stored message exactly once, in order.
func TestSubscribersMissNothingWhenNATSRestarts(t *testing.T) {
	dbURL := testutil.DatabaseURL(t, store.Postgres)
	nats := natsserver.Start(t)
	replicas := startNATSReplicas(t, 2, dbURL, nats)
	a, b := replicas[0], replicas[1]
	sessionID := b.createSession(t, b.createAgent(t), userID)
	sub, err := dialWS(t, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	sub.subscribe(t, "1", messagesQuery, map[string]any{"id": sessionID})
	waitSubscribed(t, sub, b, sessionID)
	f := follow(t, sub)
	skip := len(storedMessageIDs(t, dbURL, sessionID))

	for i := range 200 {
		if i == 100 {
			nats.Stop()
		}
		if status, _ := sendMessage(t, b, sessionID, fmt.Sprintf("m%d", i)); status != http.StatusCreated {
			t.Fatalf("send %d with NATS down: %d, want 201 (the bus is not in the send's way)", i, status)
		}
	}
	nats.Restart()
	f.waitFor(t, storedMessageIDs(t, dbURL, sessionID)[skip:])
}

// TestNATSOnSQLite: one replica on SQLite with NATS_URL set delivers its
// events to its own subscribers through NATS.
func TestNATSOnSQLite(t *testing.T) {
	nats := natsserver.Start(t)
	srv := startNATSReplicas(t, 1, testutil.DatabaseURL(t, store.SQLite), nats)[0]
	sessionID := srv.createSession(t, srv.createAgent(t), userID)
	sub, err := dialWS(t, srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	sub.subscribe(t, "1", messagesQuery, map[string]any{"id": sessionID})
	waitSubscribed(t, sub, srv, sessionID)
	f := follow(t, sub)
	published := nats.Messages()
	var sent []string
	for i := range 20 {
		status, id := sendMessage(t, srv, sessionID, fmt.Sprintf("m%d", i))
		if status != http.StatusCreated {
			t.Fatalf("send %d: %d", i, status)
		}
		sent = append(sent, id)
	}
	f.waitFor(t, sent)
	if n := nats.Messages() - published; n < int64(len(sent)) {
		t.Errorf("%d messages went through NATS for %d sends", n, len(sent))
	}
}

// TestBinaryLeavesTheNATSServerOut: the server embedded by these tests is
// test code only; the shipped binary has only the NATS client.
func TestBinaryLeavesTheNATSServerOut(t *testing.T) {
	out, err := exec.Command("go", "version", "-m", serverBinary).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "github.com/nats-io/nats.go") {
		t.Errorf("the binary has no NATS client:\n%s", out)
	}
	if strings.Contains(string(out), "github.com/nats-io/nats-server") {
		t.Error("the sessionhub binary contains the NATS server; only tests may import it")
	}
}
