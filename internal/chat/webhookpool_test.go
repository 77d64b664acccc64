package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/internal/chat"
	"sessionhub/internal/testutil"
	"sessionhub/internal/webhook"
	"sessionhub/models"
)

// gatedReceiver is a webhook endpoint that holds every request until it is
// opened (or the request is given up), counting the requests it holds at
// once, and records what it acknowledged.
type gatedReceiver struct {
	t      *testing.T
	open   chan struct{}
	opened sync.Once

	mu        sync.Mutex
	inFlight  int
	maxFlight int
	acks      map[string]int      // delivery id → times acknowledged
	bySession map[string][]string // session id → message contents, in acknowledgement order
	acked     int
}

func newGatedReceiver(t *testing.T, open bool) (*gatedReceiver, string) {
	rc := &gatedReceiver{t: t, open: make(chan struct{}), acks: map[string]int{}, bySession: map[string][]string{}}
	if open {
		rc.release()
	}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	t.Cleanup(rc.release) // before Close, which waits for held requests
	return rc, srv.URL + "/hook"
}

func (rc *gatedReceiver) release() { rc.opened.Do(func() { close(rc.open) }) }

func (rc *gatedReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := webhook.Verify(hookSecret, r.Header.Get(webhook.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
		rc.t.Errorf("signature: %v", err)
	}
	rc.mu.Lock()
	rc.inFlight++
	rc.maxFlight = max(rc.maxFlight, rc.inFlight)
	rc.mu.Unlock()
	defer func() {
		rc.mu.Lock()
		rc.inFlight--
		rc.mu.Unlock()
	}()
	select {
	case <-rc.open:
	case <-r.Context().Done(): // the sender gave up: not acknowledged
		return
	}
	var env struct {
		ID   string
		Data struct {
			SessionID string
			Message   struct{ Content string }
		}
	}
	if err := json.Unmarshal(body, &env); err != nil {
		rc.t.Errorf("body %s: %v", body, err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.acks[env.ID]++
	rc.acked++
	rc.bySession[env.Data.SessionID] = append(rc.bySession[env.Data.SessionID], env.Data.Message.Content)
}

// state returns the requests held now, the most held at once and the
// acknowledgements so far.
func (rc *gatedReceiver) state() (inFlight, maxFlight, acked int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.inFlight, rc.maxFlight, rc.acked
}

func eventually(t *testing.T, what string, done func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !done(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never %s", what)
		}
	}
}

// TestHangingReceiverHoldsOnlyItsShare: agent a's receiver hangs on every
// request, with more of a's sessions due than the replica has workers;
// agent b's receiver answers at once. b's deliveries all arrive while a's
// hang, a's receiver never holds more than the per-agent cap at once, and
// once it answers, every delivery of a arrives, in order per session, each
// acknowledged once; the dispatcher then stops and returns, with no
// attempt left in flight. Both databases.
func TestHangingReceiverHoldsOnlyItsShare(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			var observed struct {
				sync.Mutex
				inFlight, most int
			}
			svc := chat.New(testutil.OpenStore(t, dialect), models.SystemClock{}, models.DefaultSessionPolicy(),
				chat.WithWebhooks(chat.WebhookOptions{Sender: webhook.NewClient(true), FirstRetry: 20 * time.Millisecond,
					CheckURL: func(u string) error { return webhook.CheckURL(u, true) }}),
				chat.WithWebhookInFlightObserver(func(delta int) {
					observed.Lock()
					defer observed.Unlock()
					observed.inFlight += delta
					observed.most = max(observed.most, observed.inFlight)
				}))
			hanging, hangingURL := newGatedReceiver(t, false)
			prompt, promptURL := newGatedReceiver(t, true)
			agent := func(name, url string) *models.Agent {
				a, err := svc.CreateAgent(ctx, chat.CreateAgentInput{Name: name, Webhook: &chat.WebhookInput{
					URL: url, Secret: hookSecret, Events: []models.WebhookEventType{models.WebhookMessageAdded}}})
				if err != nil {
					t.Fatal(err)
				}
				return a
			}
			a, b := agent("hanging", hangingURL), agent("prompt", promptURL)
			const aSessions, bSessions, perSession = chat.DeliveryWorkers + 8, 3, 2
			open := func(agent *models.Agent, sessions int) {
				for range sessions {
					s, err := svc.CreateSession(ctx, chat.CreateSessionInput{AgentID: agent.ID.String(), UserID: testutil.MustUUID()})
					if err != nil {
						t.Fatal(err)
					}
					for i := range perSession {
						if _, err := svc.SendMessage(ctx, s.ID.String(), models.MessageInput{Content: fmt.Sprint(i)}); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			open(a, aSessions)
			open(b, bSessions)

			runCtx, stop := context.WithCancel(ctx)
			stopped := make(chan struct{})
			go func() {
				defer close(stopped)
				svc.RunWebhooks(runCtx, 20*time.Millisecond)
			}()
			t.Cleanup(func() { stop(); <-stopped })

			eventually(t, "delivered b's messages while a's receiver hangs", func() bool {
				_, _, acked := prompt.state()
				return acked == bSessions*perSession
			})
			eventually(t, "filled a's share of the workers", func() bool {
				_, most, _ := hanging.state()
				return most >= chat.AgentAttemptCap
			})
			if _, most, acked := hanging.state(); most > chat.AgentAttemptCap || acked != 0 {
				t.Fatalf("a's receiver held %d requests at once (cap %d) and acknowledged %d before it was opened", most, chat.AgentAttemptCap, acked)
			}

			hanging.release()
			eventually(t, "delivered a's messages once its receiver answered", func() bool {
				_, _, acked := hanging.state()
				return acked >= aSessions*perSession
			})
			for name, rc := range map[string]*gatedReceiver{"a": hanging, "b": prompt} {
				rc.mu.Lock()
				if rc.maxFlight > chat.AgentAttemptCap {
					t.Errorf("%s's receiver held %d requests at once, want at most %d", name, rc.maxFlight, chat.AgentAttemptCap)
				}
				for id, n := range rc.acks {
					if n != 1 {
						t.Errorf("%s: delivery %s acknowledged %d times", name, id, n)
					}
				}
				for session, contents := range rc.bySession {
					if fmt.Sprint(contents) != "[0 1]" {
						t.Errorf("%s: session %s received %v, want [0 1]", name, session, contents)
					}
				}
				rc.mu.Unlock()
			}
			if n := len(hanging.bySession); n != aSessions {
				t.Errorf("a's receiver heard of %d sessions, want %d", n, aSessions)
			}

			stop()
			select {
			case <-stopped:
			case <-time.After(30 * time.Second):
				t.Fatal("RunWebhooks did not return after its context ended")
			}
			observed.Lock()
			defer observed.Unlock()
			if n, most := observed.inFlight, observed.most; n != 0 || most < chat.AgentAttemptCap || most > chat.DeliveryWorkers {
				t.Errorf("attempts in flight observed: %d after the end, at most %d; want 0, and between %d and %d", n, most, chat.AgentAttemptCap, chat.DeliveryWorkers)
			}
		})
	}
}

// failingDraws is a store on which drawing one agent's webhook always
// fails, and that agent is listed first.
type failingDraws struct {
	chat.Store
	failing uuid.UUID
}

func (f failingDraws) WebhookAgents(ctx context.Context) ([]uuid.UUID, error) {
	agents, err := f.Store.WebhookAgents(ctx)
	slices.SortStableFunc(agents, func(x, _ uuid.UUID) int {
		if x == f.failing {
			return -1
		}
		return 0
	})
	return agents, err
}

func (f failingDraws) DrawDeliveries(ctx context.Context, agentID uuid.UUID, draw func(*models.Webhook) ([]*models.Delivery, models.FeedPosition, error)) error {
	if agentID == f.failing {
		return errors.New("this agent's draw fails")
	}
	return f.Store.DrawDeliveries(ctx, agentID, draw)
}

// TestFailingDrawHoldsUpNoOtherAgent: an agent whose webhook cannot be
// drawn (listed first) is reported, and the agents after it are drawn and
// delivered in the same pass. Both databases.
func TestFailingDrawHoldsUpNoOtherAgent(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			db := testutil.OpenStore(t, dialect)
			setup := chat.New(db, models.SystemClock{}, models.DefaultSessionPolicy(),
				chat.WithWebhooks(chat.WebhookOptions{Sender: webhook.NewClient(true), CheckURL: func(u string) error { return webhook.CheckURL(u, true) }}))
			broken, brokenURL := newGatedReceiver(t, true)
			working, workingURL := newGatedReceiver(t, true)
			var agents []*models.Agent
			for _, url := range []string{brokenURL, workingURL} {
				a, err := setup.CreateAgent(ctx, chat.CreateAgentInput{Name: "agent", Webhook: &chat.WebhookInput{
					URL: url, Secret: hookSecret, Events: []models.WebhookEventType{models.WebhookMessageAdded}}})
				if err != nil {
					t.Fatal(err)
				}
				s, err := setup.CreateSession(ctx, chat.CreateSessionInput{AgentID: a.ID.String(), UserID: testutil.MustUUID()})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := setup.SendMessage(ctx, s.ID.String(), models.MessageInput{Content: "0"}); err != nil {
					t.Fatal(err)
				}
				agents = append(agents, a)
			}
			svc := chat.New(failingDraws{Store: db, failing: agents[0].ID}, models.SystemClock{}, models.DefaultSessionPolicy(),
				chat.WithWebhooks(chat.WebhookOptions{Sender: webhook.NewClient(true), CheckURL: func(u string) error { return webhook.CheckURL(u, true) }}))
			attempted, err := svc.DispatchWebhooks(ctx)
			if err == nil || !strings.Contains(err.Error(), "1 of 2 webhook agents") || !strings.Contains(err.Error(), agents[0].ID.String()) {
				t.Errorf("pass error %v, want it to name the one agent that failed", err)
			}
			if _, _, acked := working.state(); attempted != 1 || acked != 1 {
				t.Fatalf("%d attempted, %d acknowledged by the agent after the failing one; want 1 and 1", attempted, acked)
			}
			if _, _, acked := broken.state(); acked != 0 {
				t.Fatalf("the failing agent's receiver heard %d deliveries", acked)
			}
		})
	}
}
