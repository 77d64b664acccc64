package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// reads records where each replica-eligible read of a store was served.
type reads struct {
	mu   sync.Mutex
	last string
	n    map[string]int
}

func observeReads(s *store.Store) *reads {
	r := &reads{n: map[string]int{}}
	s.ObserveReads(func(target string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.last = target
		r.n[target]++
	})
	return r
}

func (r *reads) lastTarget() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// caller is a request context of one caller (the key read-your-writes uses).
func caller(name string) context.Context {
	return models.WithPrincipal(context.Background(), models.Principal{Role: models.RoleAdmin, Scope: name, Caller: name})
}

// waitFor polls cond until it holds, failing after a generous deadline.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sqlOn runs one statement on a cluster's postgres database.
func sqlOn(t *testing.T, c *testutil.Cluster, query string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatalf("connect to %d: %v", c.Port, err)
	}
	defer conn.Close(context.Background())
	var out string
	if err := conn.QueryRow(ctx, query).Scan(&out); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// pauseReplay stops the standby from applying WAL until resumeReplay.
func pauseReplay(t *testing.T, standby *testutil.Cluster) {
	t.Helper()
	sqlOn(t, standby, "SELECT pg_wal_replay_pause()::text")
	waitUntil(t, "replay to pause", func() bool {
		return sqlOn(t, standby, "SELECT pg_get_wal_replay_pause_state()") == "paused"
	})
}

func resumeReplay(t *testing.T, standby *testutil.Cluster) {
	t.Helper()
	sqlOn(t, standby, "SELECT pg_wal_replay_resume()::text")
}

// TestReadReplicas runs a store against a private primary and a real
// streaming standby of it, and proves the routing with data only one of
// them has: with the standby's replay paused, a message the writer sends is
// on the primary only; another caller's history comes from the standby
// (without it), the writer's own from the primary (with it).
func TestReadReplicas(t *testing.T) {
	primary := testutil.StartCluster(t)
	standby := primary.StartStandby()
	open := func(maxLag time.Duration) *store.Store {
		s, err := store.Open(context.Background(), primary.URL(), testutil.Logger(),
			store.WithReadReplicas(store.ReadReplicas{URLs: []string{standby.URL()}, MaxLag: maxLag, ProbeEvery: 20 * time.Millisecond}))
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	s := open(time.Hour) // staleness allowed: the paused standby keeps serving
	where := observeReads(s)
	writer, reader := caller("writer"), caller("reader")

	sess := createSession(t, s)
	waitUntil(t, "the reader's list to be served by the standby, with the session", func() bool {
		n, err := s.CountSessions(reader, models.SessionCriteria{}, t0)
		return err == nil && n == 1 && where.lastTarget() == "standby"
	})

	pauseReplay(t, standby)
	msg := newMessage(sess, "only on the primary")
	if _, err := s.UpdateSession(writer, sess.ID, func(x *models.Session) (*models.Message, error) {
		x.LastActivity = t0.Add(time.Second)
		return msg, nil
	}); err != nil {
		t.Fatalf("send: %v", err)
	}
	history := func(ctx context.Context) int {
		t.Helper()
		page, err := s.ListMessages(ctx, sess.ID, models.ListQuery{Limit: 10})
		if err != nil {
			t.Fatalf("ListMessages: %v", err)
		}
		return len(page)
	}

	t.Run("the writer reads its own write on the primary", func(t *testing.T) {
		if got := history(writer); got != 1 || where.lastTarget() != "primary" {
			t.Fatalf("writer's history: %d messages from %s, want 1 from primary", got, where.lastTarget())
		}
	})
	t.Run("another caller reads the standby, which has not replayed it", func(t *testing.T) {
		if got := history(reader); got != 0 || where.lastTarget() != "standby" {
			t.Fatalf("reader's history: %d messages from %s, want 0 from the paused standby", got, where.lastTarget())
		}
	})
	t.Run("reads marked latest use the primary", func(t *testing.T) {
		if got := history(models.WithLatestReads(reader)); got != 1 {
			t.Fatalf("latest history: %d messages, want 1", got)
		}
	})
	t.Run("a point read the standby misses is asked again on the primary", func(t *testing.T) {
		late := createSession(t, s) // written while replay is paused
		got, err := s.FindSession(reader, late.ID)
		if err != nil || got.ID != late.ID {
			t.Fatalf("FindSession of a session the standby lacks: %v, %v", got, err)
		}
	})
	t.Run("the agent feed's messages come from the primary", func(t *testing.T) {
		// The feed's rows are read on the primary; a message the standby
		// lacks must not look deleted, or the feed would skip it for good.
		page, err := s.ReadAgentFeed(reader, sess.AgentID, models.FeedPosition{}, 100)
		if err != nil {
			t.Fatalf("ReadAgentFeed: %v", err)
		}
		found := false
		for _, r := range page.Rows {
			if r.Kind == models.EventMessageAdded {
				if r.Message == nil || r.Message.ID != msg.ID {
					t.Fatalf("feed row of the message carries %+v, want message %s", r.Message, msg.ID)
				}
				found = true
			}
		}
		if !found {
			t.Fatalf("the feed has no message row: %+v", page.Rows)
		}
	})
	t.Run("a standby staler than the lag bound is left out", func(t *testing.T) {
		tight := open(50 * time.Millisecond)
		waitUntil(t, "the paused standby to age past 50 ms", func() bool {
			page, err := tight.ListMessages(reader, sess.ID, models.ListQuery{Limit: 10})
			return err == nil && len(page) == 1
		})
	})
	t.Run("the writer uses the standby again once it has replayed the write", func(t *testing.T) {
		resumeReplay(t, standby)
		waitUntil(t, "the writer's history to come from the standby", func() bool {
			return history(writer) == 1 && where.lastTarget() == "standby"
		})
	})
	t.Run("a stopped standby fails no read", func(t *testing.T) {
		standby.Stop()
		for i := range 20 { // the first read after the stop still picks the standby, then the probe leaves it out
			if got := history(reader); got != 1 {
				t.Fatalf("read %d with the standby down: %d messages, want 1", i, got)
			}
		}
		waitUntil(t, "the probe to take the standby out", func() bool { return s.ReadReplicasInUse() == 0 })
		if got := history(reader); got != 1 || where.lastTarget() != "primary" {
			t.Fatalf("history with the standby down: %d from %s", got, where.lastTarget())
		}
		late := open(time.Hour) // a server starting while its standby is down starts, and reads
		if page, err := late.ListMessages(reader, sess.ID, models.ListQuery{Limit: 10}); err != nil || len(page) != 1 {
			t.Fatalf("history from a store opened with its standby down: %d, %v", len(page), err)
		}
		standby.Start()
		waitUntil(t, "the standby back in use", func() bool {
			return history(reader) == 1 && where.lastTarget() == "standby"
		})
	})
}

// TestReadReplicasIgnoredOnSQLite: SQLite has no standbys; the setting
// changes nothing (not even a connection attempt).
func TestReadReplicasIgnoredOnSQLite(t *testing.T) {
	s, err := store.Open(context.Background(), testutil.DatabaseURL(t, store.SQLite), testutil.Logger(),
		store.WithReadReplicas(store.ReadReplicas{URLs: []string{"postgres://nobody@127.0.0.1:1/none"}, MaxLag: time.Second}))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()
	if n := s.ReadReplicasInUse(); n != 0 {
		t.Fatalf("replicas in use on SQLite: %d", n)
	}
	sess := createSession(t, s)
	if _, err := s.FindSession(context.Background(), sess.ID); err != nil {
		t.Fatalf("FindSession: %v", err)
	}
}
