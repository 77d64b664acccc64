package chat_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"sessionhub/internal/chat"
	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// TestSweepRemovesOnlyLongExpiredSessions runs the retention sweep from two
// service instances (two connection pools, as two replicas would have) at
// once over live, recently expired and long-expired sessions, more than one
// batch of them.
func TestSweepRemovesOnlyLongExpiredSessions(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			dbURL := testutil.DatabaseURL(t, dialect)
			stores := [2]*store.Store{}
			for i := range stores {
				s, err := store.Open(ctx, dbURL, testutil.Logger())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				stores[i] = s
			}
			t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
			clock := testutil.NewClock(t0)
			services := [2]*chat.Service{
				chat.New(stores[0], clock, models.DefaultSessionPolicy()),
				chat.New(stores[1], clock, models.DefaultSessionPolicy()),
			}
			svc := services[0]
			agent, err := svc.CreateAgent(ctx, chat.CreateAgentInput{Name: "sweeper"})
			if err != nil {
				t.Fatal(err)
			}
			fiveMinutes := 5
			open := func(n int) []string {
				ids := make([]string, n)
				for i := range ids {
					s, err := svc.CreateSession(ctx, chat.CreateSessionInput{
						AgentID: agent.ID.String(), UserID: testutil.MustUUID(),
						Timeout: models.TimeoutOverrides{TimeoutMinutes: &fiveMinutes},
					})
					if err != nil {
						t.Fatal(err)
					}
					if _, err := svc.SendMessage(ctx, s.ID.String(), models.MessageInput{Content: "hi"}); err != nil {
						t.Fatal(err)
					}
					ids[i] = s.ID.String()
				}
				return ids
			}
			longExpired := open(2*chat.SweepBatchSize + 7) // expire at t0+5m
			clock.Advance(2 * time.Hour)
			recentlyExpired := open(5) // expire at t0+2h5m
			clock.Advance(30 * time.Minute)
			live := open(5) // expire at t0+2h35m
			clock.Advance(time.Minute)

			var wg sync.WaitGroup
			removed := [2]int{}
			for i := range services {
				wg.Go(func() {
					n, err := services[i].Sweep(ctx, time.Hour)
					if err != nil {
						t.Errorf("sweep %d: %v", i, err)
					}
					removed[i] = n
				})
			}
			wg.Wait()

			if got, want := removed[0]+removed[1], len(longExpired); got != want {
				t.Errorf("removed %d sessions in all (%v), want %d", got, removed, want)
			}
			for _, id := range longExpired[:3] {
				if _, err := svc.Session(ctx, id); models.ErrorCode(err) != models.CodeSessionNotFound {
					t.Errorf("long-expired session %s still there (err %v)", id, err)
				}
			}
			for _, id := range recentlyExpired {
				if _, err := svc.SendMessage(ctx, id, models.MessageInput{Content: "late"}); models.ErrorCode(err) != models.CodeSessionExpired {
					t.Errorf("recently expired session %s: %v, want SESSION_EXPIRED", id, err)
				}
			}
			for _, id := range live {
				if _, err := svc.SendMessage(ctx, id, models.MessageInput{Content: "still here"}); err != nil {
					t.Errorf("live session %s: %v", id, err)
				}
			}
			var sessions, messages, orphans int64
			db := stores[0].DB()
			db.Table("sessions").Count(&sessions)
			db.Table("messages").Count(&messages)
			db.Table("messages").Where("session_id NOT IN (SELECT id FROM sessions)").Count(&orphans)
			if sessions != 10 || messages != 15 || orphans != 0 {
				t.Errorf("after sweep: %d sessions, %d messages, %d orphaned messages; want 10, 15, 0", sessions, messages, orphans)
			}
		})
	}
}

// TestSweepWithoutRetentionKeepsEverything checks the default: 0 keeps forever.
func TestSweepWithoutRetentionKeepsEverything(t *testing.T) {
	ctx := context.Background()
	clock := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	svc := chat.New(testutil.OpenStore(t, store.SQLite), clock, models.DefaultSessionPolicy())
	agent, err := svc.CreateAgent(ctx, chat.CreateAgentInput{Name: "keeper"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := svc.CreateSession(ctx, chat.CreateSessionInput{AgentID: agent.ID.String(), UserID: testutil.MustUUID()})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(365 * 24 * time.Hour)
	if n, err := svc.Sweep(ctx, 0); n != 0 || err != nil {
		t.Fatalf("Sweep(0) = %d, %v; want 0, nil", n, err)
	}
	if _, err := svc.Session(ctx, s.ID.String()); err != nil {
		t.Errorf("session gone after a sweep with retention 0: %v", err)
	}
}

// TestLifetimeClaimsSurviveARestart: a replica started after another has
// announced a session's lifetime events does not announce them again, and
// one that was down when they happened still announces what nobody did.
func TestLifetimeClaimsSurviveARestart(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			dbURL := testutil.DatabaseURL(t, dialect)
			clock := testutil.NewClock(time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC))
			replica := func() *chat.Service {
				s, err := store.Open(ctx, dbURL, testutil.Logger())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				return chat.New(s, clock, models.DefaultSessionPolicy())
			}
			first := replica()
			agent, err := first.CreateAgent(ctx, chat.CreateAgentInput{Name: "a"})
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if _, err := first.CreateSession(ctx, chat.CreateSessionInput{AgentID: agent.ID.String(), UserID: testutil.MustUUID()}); err != nil {
					t.Fatal(err)
				}
			}
			clock.Advance(26 * time.Minute) // inside the 5-minute warning window
			if n, err := first.AnnounceLifetimes(ctx); n != 3 || err != nil {
				t.Fatalf("first replica announced %d (%v), want 3 warnings", n, err)
			}
			restarted := replica()
			if n, err := restarted.AnnounceLifetimes(ctx); n != 0 || err != nil {
				t.Errorf("a restarted replica announced %d again (%v)", n, err)
			}
			clock.Advance(5 * time.Minute) // all expired while "first" is gone
			if n, err := restarted.AnnounceLifetimes(ctx); n != 3 || err != nil {
				t.Errorf("restarted replica announced %d expiries (%v), want 3", n, err)
			}
			if n, _ := first.AnnounceLifetimes(ctx); n != 0 {
				t.Errorf("expiries announced twice: %d", n)
			}
		})
	}
}
