package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// TestGroupStatementIsolatesARefusedRow: one send the database refuses (a NUL
// in its content, which the service would have rejected, but the store must
// not let one row fail others) shares a group statement with innocent sends.
// Only that send fails; every other send is stored.
func TestGroupStatementIsolatesARefusedRow(t *testing.T) {
	ctx := context.Background()
	url := testutil.DatabaseURL(t, store.Postgres)
	s := testutil.OpenStoreAt(t, url)
	var largest atomic.Int64
	store.ObserveGroups(s, func(size int) {
		for cur := largest.Load(); int64(size) > cur && !largest.CompareAndSwap(cur, int64(size)); cur = largest.Load() {
		}
	})
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	blocker := seedSession(t, s, now)

	// Hold the blocker's row so that the first statement waits and the sends
	// below queue behind it, to leave together in one group.
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lock, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(ctx, `SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE`, blocker.ID); err != nil {
		t.Fatal(err)
	}
	send := func(sess *models.Session, content string) error {
		_, err := s.UpdateSession(ctx, sess.ID, func(cur *models.Session) (*models.Message, error) {
			cur.RenewalCount++
			return &models.Message{ID: uuid.New(), SessionID: cur.ID, AuthorID: cur.UserID, Content: content,
				Metadata: models.JSONObject("{}"), CreatedAt: cur.StampMessage(now)}, nil
		})
		return err
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := send(blocker, "first"); err != nil {
			t.Errorf("blocker send: %v", err)
		}
	})
	waitFor(t, "the blocker's statement to run", func() bool { return store.QueuedSends(s) == 0 && aStatementWaitsForALock(t, db) })

	const innocents = 12
	sessions := make([]*models.Session, innocents+1)
	errs := make([]error, innocents+1)
	for i := range sessions {
		sessions[i] = seedSession(t, s, now)
	}
	for i, sess := range sessions {
		content := fmt.Sprintf("innocent %d", i)
		if i == innocents {
			content = "poison \x00 here"
		}
		wg.Go(func() { errs[i] = send(sess, content) })
	}
	waitFor(t, "every send to queue", func() bool { return store.QueuedSends(s) == innocents+1 })
	if err := lock.Commit(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	if largest.Load() < innocents+1 {
		t.Fatalf("largest group had %d sends, want all %d queued sends in one statement", largest.Load(), innocents+1)
	}
	if errs[innocents] == nil {
		t.Error("the poisoned send succeeded")
	}
	for i, sess := range sessions[:innocents] {
		if errs[i] != nil {
			t.Errorf("innocent send %d failed with the poisoned one: %v", i, errs[i])
		}
		var n int64
		s.DB().Table("messages").Where("session_id = ?", sess.ID).Count(&n)
		if n != 1 {
			t.Errorf("innocent session %d has %d messages, want 1", i, n)
		}
	}
}

// aStatementWaitsForALock reports whether a statement on sessions waits for a row lock.
func aStatementWaitsForALock(t *testing.T, db *sql.DB) bool {
	t.Helper()
	var waiting int
	err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%sessions%'`).Scan(&waiting)
	if err != nil {
		t.Fatal(err)
	}
	return waiting > 0
}

// waitFor polls cond until it holds, failing the test after a generous while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
