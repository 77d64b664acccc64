package chat_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/internal/chat"
	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

const week = 7 * 24 * time.Hour

// settledFeed reads an agent's whole feed once none of it waits behind a
// running transaction (on PostgreSQL other tests' transactions hold rows
// back for a moment; once settled they stay settled).
func settledFeed(t *testing.T, st *store.Store, agentID uuid.UUID) []models.FeedRow {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var rows []models.FeedRow
		pending := false
		for from := (models.FeedPosition{}); ; {
			page, err := st.ReadAgentFeed(context.Background(), agentID, from, 500)
			if err != nil {
				t.Fatalf("ReadAgentFeed: %v", err)
			}
			rows, pending = append(rows, page.Rows...), page.Pending
			if len(page.Rows) < 500 || pending {
				break
			}
			last := page.Rows[len(page.Rows)-1]
			from = models.FeedPosition{Tx: last.Tx, Seq: last.Seq + 1}
		}
		if !pending {
			return rows
		}
		if time.Now().After(deadline) {
			t.Fatal("feed rows stayed pending")
		}
	}
}

func rowPosition(r models.FeedRow, done int) models.FeedPosition {
	return models.FeedPosition{Tx: r.Tx, Seq: r.Seq, Done: done}
}

// openWithMessage opens a session of agent and sends one user message
// (which renews it: its feed row stands for two events).
func openWithMessage(t *testing.T, svc *chat.Service, agent *models.Agent) *models.Session {
	t.Helper()
	ctx := context.Background()
	s, err := svc.CreateSession(ctx, chat.CreateSessionInput{AgentID: agent.ID.String(), UserID: testutil.MustUUID()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SendMessage(ctx, s.ID.String(), models.MessageInput{Content: "hi"}); err != nil {
		t.Fatal(err)
	}
	return s
}

// feedFollower collects what FollowAgent hands over.
type feedFollower struct {
	events chan models.FeedEvent
	ended  chan error
}

func follow(t *testing.T, svc *chat.Service, agentID uuid.UUID, after string) (*feedFollower, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f := &feedFollower{events: make(chan models.FeedEvent, 1000), ended: make(chan error, 1)}
	err := svc.FollowAgent(ctx, agentID.String(), after, func(e models.FeedEvent) bool {
		f.events <- e
		return true
	}, func(why error) { f.ended <- why })
	return f, err
}

func (f *feedFollower) next(t *testing.T) models.FeedEvent {
	t.Helper()
	select {
	case e := <-f.events:
		return e
	case why := <-f.ended:
		t.Fatalf("feed ended (%v), want an event", why)
	case <-time.After(30 * time.Second):
		t.Fatal("no event within 30s")
	}
	return models.FeedEvent{}
}

// TestSweepAgentFeed: the agent feed's retention sweep, with the service's
// clock, from two replicas at once, over more than one batch: rows older
// than the retention go and newer ones stay, each agent's horizon moves
// forward only, a cursor below the horizon is refused with
// FEED_CURSOR_EXPIRED (also when the sweep passes a follower that lags),
// and one at the horizon resumes with the first event kept; on both
// databases.
func TestSweepAgentFeed(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			dbURL := testutil.DatabaseURL(t, dialect)
			clock := testutil.NewClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
			var stores [2]*store.Store
			var services [2]*chat.Service
			for i := range services {
				stores[i] = testutil.OpenStoreAt(t, dbURL)
				services[i] = chat.New(stores[i], clock, models.DefaultSessionPolicy())
			}
			svc, st := services[0], stores[0]
			agent, err := svc.CreateAgent(ctx, chat.CreateAgentInput{Name: "busy"})
			if err != nil {
				t.Fatal(err)
			}
			quiet, err := svc.CreateAgent(ctx, chat.CreateAgentInput{Name: "quiet"})
			if err != nil {
				t.Fatal(err)
			}
			for range chat.SweepBatchSize/2 + 10 { // two rows each: more than one batch
				openWithMessage(t, svc, agent)
			}
			openWithMessage(t, svc, quiet)
			old := settledFeed(t, st, agent.ID)
			oldQuiet := settledFeed(t, st, quiet.ID)

			clock.Advance(week + time.Hour)
			var recentSessions []*models.Session
			for range 60 { // more than a follower's page (100 rows)
				recentSessions = append(recentSessions, openWithMessage(t, svc, agent))
			}
			recent := settledFeed(t, st, agent.ID)[len(old):]

			// Two replicas sweep together: nothing fails, nothing is counted twice.
			var wg sync.WaitGroup
			var removed [2]int
			for i := range services {
				wg.Go(func() {
					n, err := services[i].SweepAgentFeed(ctx, week)
					if err != nil {
						t.Errorf("sweep %d: %v", i, err)
					}
					removed[i] = n
				})
			}
			wg.Wait()
			if got, want := removed[0]+removed[1], len(old)+len(oldQuiet); got != want {
				t.Fatalf("removed %d rows in all (%v), want %d", got, removed, want)
			}
			if left := settledFeed(t, st, agent.ID); len(left) != len(recent) || left[0].Seq != recent[0].Seq {
				t.Fatalf("%d rows left, want the %d recent ones", len(left), len(recent))
			}
			if left := settledFeed(t, st, quiet.ID); len(left) != 0 {
				t.Fatalf("quiet agent: %d rows left, want 0", len(left))
			}
			horizon, err := st.AgentFeedHorizon(ctx, agent.ID)
			if err != nil {
				t.Fatal(err)
			}
			if want := rowPosition(old[len(old)-1], 2); horizon != want { // a message that renewed: two events
				t.Fatalf("horizon %+v, want the last old row %+v", horizon, want)
			}
			if n, err := svc.SweepAgentFeed(ctx, week); n != 0 || err != nil {
				t.Fatalf("sweeping again removed %d (%v), want 0", n, err)
			}
			if h, _ := st.AgentFeedHorizon(ctx, agent.ID); h != horizon {
				t.Fatalf("horizon moved to %+v without removing anything", h)
			}

			// Below the horizon: refused, naming the horizon to resume from.
			for _, below := range []models.FeedPosition{rowPosition(old[0], 1), rowPosition(old[len(old)-1], 1)} {
				_, err := follow(t, svc, agent.ID, below.Cursor())
				appErr := wantCode(t, err, models.CodeFeedCursorExpired)
				if got := appErr.Details.Map()["horizon"]; got != horizon.Cursor() {
					t.Errorf("details.horizon %v, want %s", got, horizon.Cursor())
				}
			}
			// At the horizon: the first event kept comes first.
			f, err := follow(t, svc, agent.ID, horizon.Cursor())
			if err != nil {
				t.Fatalf("resuming at the horizon: %v", err)
			}
			if e := f.next(t); e.Position != rowPosition(recent[0], 1) || e.Event.Kind != models.EventCreated || e.Event.SessionID != recentSessions[0].ID {
				t.Fatalf("first event after the horizon %+v, want the first recent session's creation", e)
			}
			// An agent whose whole feed was removed is followed from its head.
			fq, err := follow(t, svc, quiet.ID, "")
			if err != nil {
				t.Fatal(err)
			}
			s := openWithMessage(t, svc, quiet)
			if e := fq.next(t); e.Event.Kind != models.EventCreated || e.Event.SessionID != s.ID {
				t.Fatalf("quiet agent's next event %+v, want its new session", e)
			}

			// A follower that lags (its first delivery held) while the sweep
			// passes it is ended with FEED_CURSOR_EXPIRED after handing over
			// what it had read, never skipping silently.
			started, release := make(chan struct{}), make(chan struct{})
			var delivered atomic.Int64
			ended := make(chan error, 1)
			followCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			if err := svc.FollowAgent(followCtx, agent.ID.String(), horizon.Cursor(), func(models.FeedEvent) bool {
				if delivered.Add(1) == 1 {
					close(started)
					<-release
				}
				return true
			}, func(why error) { ended <- why }); err != nil {
				t.Fatal(err)
			}
			<-started // its first page (100 rows) is read
			clock.Advance(week + time.Minute)
			if n, err := svc.SweepAgentFeed(ctx, week); n != len(recent)+2 || err != nil { // and the quiet agent's 2 new rows
				t.Fatalf("second sweep removed %d (%v), want %d", n, err, len(recent)+2)
			}
			later, _ := st.AgentFeedHorizon(ctx, agent.ID)
			if !horizon.Less(later) || later != rowPosition(recent[len(recent)-1], 2) {
				t.Fatalf("horizon %+v after %+v, want the last recent row", later, horizon)
			}
			close(release)
			select {
			case why := <-ended:
				wantCode(t, why, models.CodeFeedCursorExpired)
			case <-time.After(30 * time.Second):
				t.Fatal("the lagging follower was not ended")
			}
			events := 0
			for _, r := range recent[:100] {
				events += len(r.Events())
			}
			if got := delivered.Load(); got != int64(events) {
				t.Errorf("the lagging follower got %d events before it ended, want the %d of the page it had read", got, events)
			}
		})
	}
}

// hookSender answers every POST: delivered, except for one session.
type hookSender struct {
	mu      sync.Mutex
	failFor string
	posted  []string // bodies
}

func (h *hookSender) Post(_ context.Context, _, _, _, _ string, body []byte, _ time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.posted = append(h.posted, string(body))
	if h.failFor != "" && strings.Contains(string(body), h.failFor) {
		return errors.New("receiver refused")
	}
	return nil
}

func (h *hookSender) bodies() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.posted...)
}

// TestSweepDeliveriesKeepsPending: delivered and failed deliveries older
// than the retention go, pending ones (however old) and newer ones stay;
// two replicas sweeping together count each once.
func TestSweepDeliveriesKeepsPending(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			dbURL := testutil.DatabaseURL(t, dialect)
			clock := testutil.NewClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
			sender := &hookSender{}
			var services [2]*chat.Service
			for i := range services {
				services[i] = chat.New(testutil.OpenStoreAt(t, dbURL), clock, models.DefaultSessionPolicy(),
					chat.WithWebhooks(chat.WebhookOptions{Sender: sender, CheckURL: func(string) error { return nil },
						RetryWindow: time.Millisecond})) // one failed attempt fails for good
			}
			svc := services[0]
			agent, err := svc.CreateAgent(ctx, chat.CreateAgentInput{Name: "hooked",
				Webhook: &chat.WebhookInput{URL: "https://agent.example.com/hook", Secret: hookSecret}})
			if err != nil {
				t.Fatal(err)
			}
			a, err := svc.CreateSession(ctx, chat.CreateSessionInput{AgentID: agent.ID.String(), UserID: testutil.MustUUID()})
			if err != nil {
				t.Fatal(err)
			}
			b := openWithMessage(t, svc, agent) // created, message, renewal
			sender.mu.Lock()
			sender.failFor = b.ID.String()
			sender.mu.Unlock()
			st := testutil.OpenStoreAt(t, dbURL)
			settledFeed(t, st, agent.ID)
			// One pass: a's creation delivered, b's failed; b's message and
			// renewal wait behind it, pending.
			if _, err := svc.DispatchWebhooks(ctx); err != nil {
				t.Fatal(err)
			}
			clock.Advance(week + time.Hour)
			d, err := svc.CreateSession(ctx, chat.CreateSessionInput{AgentID: agent.ID.String(), UserID: testutil.MustUUID()})
			if err != nil {
				t.Fatal(err)
			}
			settledFeed(t, st, agent.ID)
			// d's creation delivered; b's message failed; b's renewal pending.
			if _, err := svc.DispatchWebhooks(ctx); err != nil {
				t.Fatal(err)
			}
			status := func() map[string]models.DeliveryStatus {
				out := map[string]models.DeliveryStatus{}
				page, _, err := svc.WebhookDeliveries(ctx, agent.ID, 100, "")
				if err != nil {
					t.Fatal(err)
				}
				for _, del := range page {
					key := string(del.Type) + " " + map[uuid.UUID]string{a.ID: "a", b.ID: "b", d.ID: "d"}[del.SessionID]
					out[key] = del.Status
				}
				return out
			}
			before := status()
			want := map[string]models.DeliveryStatus{"session.created a": models.DeliveryDelivered, "session.created b": models.DeliveryFailed,
				"message.added b": models.DeliveryFailed, "session.renewed b": models.DeliveryPending, "session.created d": models.DeliveryDelivered}
			if len(before) != len(want) {
				t.Fatalf("deliveries %v, want %v", before, want)
			}
			for k, v := range want {
				if before[k] != v {
					t.Fatalf("deliveries %v, want %v", before, want)
				}
			}

			var wg sync.WaitGroup
			var removed [2]int
			for i := range services {
				wg.Go(func() {
					n, err := services[i].SweepDeliveries(ctx, week)
					if err != nil {
						t.Errorf("sweep %d: %v", i, err)
					}
					removed[i] = n
				})
			}
			wg.Wait()
			if removed[0]+removed[1] != 3 {
				t.Fatalf("removed %v deliveries, want 3 in all", removed)
			}
			after := status()
			if len(after) != 2 || after["session.renewed b"] != models.DeliveryPending || after["session.created d"] != models.DeliveryDelivered {
				t.Fatalf("left %v, want the old pending renewal and the recent delivery", after)
			}
		})
	}
}

// TestWebhookSkipsToTheHorizon: a webhook whose feed position the sweep
// passed (nothing drew it for longer than the retention) moves to the
// horizon once, counted and logged, and goes on with what is kept; it
// neither fails nor loops.
func TestWebhookSkipsToTheHorizon(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			clock := testutil.NewClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
			st := testutil.OpenStore(t, dialect)
			sender := &hookSender{}
			var skips atomic.Int64
			logs := &testutil.SyncBuffer{}
			svc := chat.New(st, clock, models.DefaultSessionPolicy(),
				chat.WithWebhooks(chat.WebhookOptions{Sender: sender, CheckURL: func(string) error { return nil }}),
				chat.WithWebhookSkipObserver(func() { skips.Add(1) }), chat.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
			agent, err := svc.CreateAgent(ctx, chat.CreateAgentInput{Name: "hooked",
				Webhook: &chat.WebhookInput{URL: "https://agent.example.com/hook", Secret: hookSecret}})
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				openWithMessage(t, svc, agent)
			}
			clock.Advance(week + time.Hour)
			kept := openWithMessage(t, svc, agent)
			settledFeed(t, st, agent.ID)
			if n, err := svc.SweepAgentFeed(ctx, week); n != 6 || err != nil {
				t.Fatalf("sweep removed %d (%v), want 6", n, err)
			}
			horizon, _ := st.AgentFeedHorizon(ctx, agent.ID)

			for range 3 {
				if _, err := svc.DispatchWebhooks(ctx); err != nil {
					t.Fatalf("dispatch: %v", err)
				}
			}
			if n := skips.Load(); n != 1 {
				t.Errorf("%d skips counted, want 1", n)
			}
			if !strings.Contains(logs.String(), "webhook fell behind the agent feed's retention horizon") {
				t.Errorf("no warning logged:\n%s", logs.String())
			}
			bodies := sender.bodies()
			if len(bodies) != 3 { // the kept session's creation, message and renewal
				t.Fatalf("%d POSTs, want 3: %q", len(bodies), bodies)
			}
			for _, body := range bodies {
				if !strings.Contains(body, kept.ID.String()) {
					t.Errorf("POSTed an event of another session: %s", body)
				}
			}
			hook, err := svc.AgentWebhook(ctx, agent.ID)
			if err != nil {
				t.Fatal(err)
			}
			if hook.Position.Less(horizon) {
				t.Errorf("webhook position %+v still before the horizon %+v", hook.Position, horizon)
			}
		})
	}
}
