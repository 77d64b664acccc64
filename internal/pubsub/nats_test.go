package pubsub

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/internal/testutil"
	"sessionhub/internal/testutil/natsserver"
	"sessionhub/models"
)

// These tests run real NATS servers (embedded) with two NATS buses on each:
// two replicas sharing one database (a history).

// fetcher is a FetchMessage reading the history, counting the fetches.
func fetcher(h *history, fetches *atomic.Int32) FetchMessage {
	return func(_ context.Context, id uuid.UUID) (*models.Message, error) {
		fetches.Add(1)
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, m := range h.msgs {
			if m.ID == id {
				return m, nil
			}
		}
		return nil, errors.New("no such message")
	}
}

// reads counts the history's backfill reads.
func (h *history) readCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reads
}

// newNATSReplica connects a bus to the server, closed when the test ends.
func newNATSReplica(t *testing.T, srv *natsserver.Server, h *history, fetches *atomic.Int32) *NATS {
	t.Helper()
	n, err := NewNATS(context.Background(), NATSConfig{URL: srv.URL()}, fetcher(h, fetches), h.backfill, testutil.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// follow subscribes a recorder to session on bus, from where it stands.
func followOn(t *testing.T, bus Bus, session uuid.UUID) *recorder {
	t.Helper()
	r := newRecorder()
	sub := bus.Subscribe(r.follow(session))
	sub.Start(models.Key{}, false)
	t.Cleanup(sub.Close)
	return r
}

// TestNATSDeliversAcrossReplicas: events published on either replica reach
// the subscribers of both, once each and in order, other events included,
// and each replica subscribes once, to every session.
func TestNATSDeliversAcrossReplicas(t *testing.T) {
	srv := natsserver.Start(t)
	h := &history{}
	var fetches atomic.Int32
	a, b := newNATSReplica(t, srv, h, &fetches), newNATSReplica(t, srv, h, &fetches)
	session := uuid.New()
	onA, onB := followOn(t, a, session), followOn(t, b, session)

	for n := 1; n <= 200; n++ {
		bus := a
		if n%3 != 0 {
			bus = b
		}
		if err := bus.Publish(context.Background(), h.add(session, n)); err != nil {
			t.Fatal(err)
		}
	}
	renewed := models.Event{Kind: models.EventRenewed, SessionID: session, OccurredAt: base, Status: &models.SessionStatus{RenewalCount: 7}}
	if err := a.Publish(context.Background(), renewed); err != nil {
		t.Fatal(err)
	}
	onA.waitMessages(t, seq(1, 200))
	onB.waitMessages(t, seq(1, 200))
	for _, r := range []*recorder{onA, onB} {
		waitFor(t, "the renewal", func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return slices.ContainsFunc(r.events, func(e models.Event) bool {
				return e.Kind == models.EventRenewed && e.Status.RenewalCount == 7
			})
		})
	}
	// Events of the two publishers may overtake each other on the way; the
	// overtaken ones are read back from the database, and skipped live.
	t.Logf("%d database reads", h.readCount())
	if got := a.sub.Subject; got != DefaultSubjectPrefix+".*" {
		t.Errorf("replica subscribes to %q, want every session's subject", got)
	}
}

// TestNATSLargeMessagesTravelByID: a message event larger than the server
// accepts leaves without the message, and each replica fetches it once.
func TestNATSLargeMessagesTravelByID(t *testing.T) {
	srv := natsserver.Start(t, natsserver.MaxPayload(4096))
	h := &history{}
	var fetches atomic.Int32
	a, b := newNATSReplica(t, srv, h, &fetches), newNATSReplica(t, srv, h, &fetches)
	session := uuid.New()
	onB := followOn(t, b, session)

	small, large := h.add(session, 1), h.add(session, 2)
	large.Message.Content = strings.Repeat("😀", 4000)
	for _, e := range []models.Event{small, large} {
		if err := a.Publish(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	onB.waitMessages(t, []int{1, 2})
	onB.mu.Lock()
	got := onB.events[1].Message.Content
	onB.mu.Unlock()
	if got != large.Message.Content {
		t.Errorf("large message delivered with %d bytes of content, want %d", len(got), len(large.Message.Content))
	}
	// Only b has a subscriber: a skips what nobody on it follows.
	if got := fetches.Load(); got != 1 {
		t.Errorf("the large message was fetched %d times, want once, by the replica that follows its session", got)
	}
}

// TestNATSReplicasHearOnlyWhatTheyFollow: a replica where only an agent's
// follower waits is woken by events from elsewhere, while a replica that
// follows other sessions neither decodes nor fetches them.
func TestNATSReplicasHearOnlyWhatTheyFollow(t *testing.T) {
	srv := natsserver.Start(t, natsserver.MaxPayload(4096))
	h := &history{}
	var fetchesA, fetchesB, fetchesC atomic.Int32
	a, b, c := newNATSReplica(t, srv, h, &fetchesA), newNATSReplica(t, srv, h, &fetchesB), newNATSReplica(t, srv, h, &fetchesC)
	agent, session, other := uuid.New(), uuid.New(), uuid.New()
	woken := make(chan struct{}, 1)
	stop := b.WatchAgent(agent, func() {
		select {
		case woken <- struct{}{}:
		default:
		}
	})
	defer stop()
	onA, onC := followOn(t, a, session), followOn(t, c, other)

	// Large enough to travel by id: every replica that decodes it fetches it.
	event := h.add(session, 1)
	event.AgentID = agent
	event.Message.Content = strings.Repeat("😀", 4000)
	if err := a.Publish(context.Background(), event); err != nil {
		t.Fatal(err)
	}
	// c hears one subscription's messages in order: once the other
	// session's event has reached it, the large one has been handled.
	first := h.add(other, 2)
	first.PrevMessageAt = time.Time{} // the other session's first message (the test history is one list)
	if err := a.Publish(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	onA.waitMessages(t, []int{1})
	onC.waitMessages(t, []int{2})
	select {
	case <-woken:
	case <-time.After(time.Minute):
		t.Fatal("the agent's follower on another replica was never woken")
	}
	if got := fetchesC.Load(); got != 0 {
		t.Errorf("a replica following other sessions fetched %d messages, want none", got)
	}
	if fetchesA.Load() != 1 || fetchesB.Load() != 1 {
		t.Errorf("fetches: the session follower's replica %d, the agent follower's %d; want one each", fetchesA.Load(), fetchesB.Load())
	}
}

// TestNATSRestartReadsBackTheGap: the NATS server restarts. Messages
// committed while it was down, whose events never left, reach the
// subscriber once it is back although no later message reveals them; then
// live delivery goes on, each message once, in order.
func TestNATSRestartReadsBackTheGap(t *testing.T) {
	srv := natsserver.Start(t)
	h := &history{}
	var fetches atomic.Int32
	a, b := newNATSReplica(t, srv, h, &fetches), newNATSReplica(t, srv, h, &fetches)
	session := uuid.New()
	r := followOn(t, a, session)
	for n := 1; n <= 3; n++ {
		if err := b.Publish(context.Background(), h.add(session, n)); err != nil {
			t.Fatal(err)
		}
	}
	r.waitMessages(t, seq(1, 3))

	srv.Stop()
	h.add(session, 4) // committed, but its event was lost
	h.add(session, 5)
	srv.Restart()

	r.waitMessages(t, seq(1, 5))
	if err := b.Publish(context.Background(), h.add(session, 6)); err != nil {
		t.Fatal(err)
	}
	r.waitMessages(t, seq(1, 6))
}

// TestNATSStartsWithoutTheServer: a replica whose NATS server is not up at
// start-up serves anyway; once the server is up, its subscribers read back
// what was committed meanwhile and go on live.
func TestNATSStartsWithoutTheServer(t *testing.T) {
	srv := natsserver.Start(t)
	srv.Stop()
	h := &history{}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var fetches atomic.Int32
	a, err := NewNATS(ctx, NATSConfig{URL: srv.URL()}, fetcher(h, &fetches), h.backfill, testutil.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	session := uuid.New()
	r := followOn(t, a, session)
	if err := a.Publish(context.Background(), h.add(session, 1)); err != nil {
		t.Fatal(err)
	}
	h.add(session, 2) // committed elsewhere while this replica had no bus

	srv.Restart()
	r.waitMessages(t, seq(1, 2))
	b := newNATSReplica(t, srv, h, &fetches)
	if err := b.Publish(context.Background(), h.add(session, 3)); err != nil {
		t.Fatal(err)
	}
	r.waitMessages(t, seq(1, 3))
}

// TestNATSRefusedCredentialsStopStartUp: a server that refuses the
// credentials is a configuration error, not an outage to wait out.
func TestNATSRefusedCredentialsStopStartUp(t *testing.T) {
	srv := natsserver.Start(t, natsserver.User("sessionhub", "right"))
	h := &history{}
	var fetches atomic.Int32
	u := strings.Replace(srv.URL(), "nats://", "nats://sessionhub:wrong@", 1)
	n, err := NewNATS(context.Background(), NATSConfig{URL: u}, fetcher(h, &fetches), h.backfill, testutil.Logger())
	if err == nil {
		_ = n.Close()
		t.Fatal("NewNATS with refused credentials succeeded")
	}
	if !strings.Contains(err.Error(), "Authorization") {
		t.Errorf("error %q does not say the credentials were refused", err)
	}
	u = strings.Replace(srv.URL(), "nats://", "nats://sessionhub:right@", 1)
	n, err = NewNATS(context.Background(), NATSConfig{URL: u}, fetcher(h, &fetches), h.backfill, testutil.Logger())
	if err != nil {
		t.Fatal(err)
	}
	_ = n.Close()
}

// TestNATSCloseFlushes: Close sends everything published before it; after
// it Publish fails, and a second Close is harmless.
func TestNATSCloseFlushes(t *testing.T) {
	srv := natsserver.Start(t)
	h := &history{}
	var fetches atomic.Int32
	a, b := newNATSReplica(t, srv, h, &fetches), newNATSReplica(t, srv, h, &fetches)
	session := uuid.New()
	onB := followOn(t, b, session)

	for n := 1; n <= 1000; n++ {
		if err := a.Publish(context.Background(), h.add(session, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	onB.waitMessages(t, seq(1, 1000))
	if h.readCount() != 0 {
		t.Errorf("%d database reads: events published before Close were lost", h.readCount())
	}
	if err := a.Publish(context.Background(), h.add(session, 1001)); err == nil {
		t.Error("Publish after Close succeeded")
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestNATSPublishDoesNotWaitForTheServer: with the server down, publishing
// returns at once, dropping what does not fit in the outbox.
func TestNATSPublishDoesNotWaitForTheServer(t *testing.T) {
	srv := natsserver.Start(t)
	h := &history{}
	var fetches atomic.Int32
	a := newNATSReplica(t, srv, h, &fetches)
	srv.Stop()
	session := uuid.New()
	dropped := 0
	for n := 1; n <= 3*natsOutbox; n++ {
		if err := a.Publish(context.Background(), h.add(session, n)); err != nil {
			dropped++
		}
	}
	t.Logf("%d of %d events dropped with the server down", dropped, 3*natsOutbox)
}

func TestValidSubjectPrefix(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		ok     bool
	}{
		{"sessionhub.events", true},
		{"prod-eu.sessionhub", true},
		{"events", true},
		{"", false},
		{"a..b", false},
		{".a", false},
		{"a.", false},
		{"a.*", false},
		{"a.>", false},
		{"a b", false},
		{"a\tb", false},
	} {
		if err := ValidSubjectPrefix(tc.prefix); (err == nil) != tc.ok {
			t.Errorf("ValidSubjectPrefix(%q) = %v, want ok %v", tc.prefix, err, tc.ok)
		}
	}
}

// waitFor polls cond until it holds, failing after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
