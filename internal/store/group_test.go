package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// TestGroupCommit: concurrent sends on PostgreSQL share statements, and
// still every send is stored once and every session's renewal count and
// version count exactly the sends it got — including sends to one session
// that queue behind each other and sends that lose a race to another replica.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	url := testutil.DatabaseURL(t, store.Postgres)
	open := func() *store.Store {
		s, err := store.Open(ctx, url, testutil.Logger())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	a, b := open(), open()
	var groups, grouped, largest atomic.Int64
	store.ObserveGroups(a, func(size int) {
		groups.Add(1)
		grouped.Add(int64(size))
		for cur := largest.Load(); int64(size) > cur && !largest.CompareAndSwap(cur, int64(size)); cur = largest.Load() {
		}
	})

	var statementSends atomic.Int64 // what the sessionhub_send_group_size metric hears
	a.ObserveSendStatements(func(n int) { statementSends.Add(int64(n)) })

	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	agent := &models.Agent{ID: uuid.New(), Name: "a", CreatedAt: now}
	if err := a.CreateAgent(ctx, agent); err != nil {
		t.Fatal(err)
	}
	sessions := make([]*models.Session, 6)
	for i := range sessions {
		sessions[i] = models.NewSession(uuid.New(), agent.ID, uuid.New(), nil, models.DefaultSessionPolicy().Resolve(), now)
		sessions[i].Metadata = models.JSONObject("{}")
		if err := a.CreateSession(ctx, sessions[i]); err != nil {
			t.Fatal(err)
		}
	}

	const workers, perWorker = 48, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		replica := a
		if w%8 == 7 {
			replica = b // a few sends race in from another replica
		}
		wg.Go(func() {
			for i := range perWorker {
				sess := sessions[(w+i)%len(sessions)]
				_, err := replica.UpdateSession(ctx, sess.ID, func(cur *models.Session) (*models.Message, error) {
					cur.RenewalCount++
					return &models.Message{ID: uuid.New(), SessionID: cur.ID, AuthorID: cur.UserID,
						Content: fmt.Sprintf("w%d-%d", w, i), Metadata: models.JSONObject(`{"n":1}`), CreatedAt: now}, nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	total := 0
	for _, sess := range sessions {
		stored, err := a.FindSession(ctx, sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		var messages int64
		a.DB().Table("messages").Where("session_id = ?", sess.ID).Count(&messages)
		if int64(stored.RenewalCount) != messages || stored.Version != messages {
			t.Errorf("session %s: renewal_count %d, version %d, %d messages; want all equal", sess.ID, stored.RenewalCount, stored.Version, messages)
		}
		total += int(messages)
	}
	if total != workers*perWorker {
		t.Errorf("%d messages stored, want %d", total, workers*perWorker)
	}
	var metadata string
	a.DB().Table("messages").Select("metadata::text").Limit(1).Scan(&metadata)
	if metadata != `{"n": 1}` {
		t.Errorf("metadata stored as %q", metadata)
	}
	if largest.Load() < 2 {
		t.Errorf("no statement carried more than one send (%d statements)", groups.Load())
	}
	// Every send through a went through a statement, alone or shared.
	if viaA := int64(workers-workers/8) * perWorker; statementSends.Load() < viaA || statementSends.Load() < grouped.Load() {
		t.Errorf("statements reported %d sends; a sent %d, %d of them in shared statements", statementSends.Load(), viaA, grouped.Load())
	}
	t.Logf("%d shared statements carried %d sends (retries included; largest %d) of %d", groups.Load(), grouped.Load(), largest.Load(), workers*perWorker)
}

// TestSendsAreHOTUpdates: no index of sessions covers a column a send
// writes (key columns and partial-index predicates alike), so PostgreSQL can
// keep each send's UPDATE on its page without touching any index.
func TestSendsAreHOTUpdates(t *testing.T) {
	s := testutil.OpenStore(t, store.Postgres)
	written := map[string]bool{"last_activity": true, "expires_at": true, "renewal_count": true, "timeout_minutes": true,
		"auto_renew": true, "max_duration_minutes": true, "warning_threshold_minutes": true, "version": true,
		"last_message_at": true}
	var indexes []struct{ Name, Definition string }
	err := s.DB().Raw(`SELECT indexname AS name, indexdef AS definition FROM pg_indexes WHERE tablename = 'sessions'`).Scan(&indexes).Error
	if err != nil || len(indexes) < 2 {
		t.Fatalf("indexes %v: %v", indexes, err)
	}
	for _, idx := range indexes {
		for column := range written {
			if strings.Contains(idx.Definition, column) {
				t.Errorf("index %s covers %s, which every send writes: %s", idx.Name, column, idx.Definition)
			}
		}
	}
}
