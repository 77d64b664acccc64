package store_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// TestUpdateSessionRetriesAfterAConcurrentWrite: on PostgreSQL a write is
// applied only to the version it read. Another write landing between the
// read and the write makes apply run again on the new state, so no update
// is lost and the message is stored once.
func TestUpdateSessionRetriesAfterAConcurrentWrite(t *testing.T) {
	ctx := context.Background()
	url := testutil.DatabaseURL(t, store.Postgres)
	s, other := testutil.OpenStoreAt(t, url), testutil.OpenStoreAt(t, url)
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	sess := seedSession(t, s, now)

	calls := 0
	msgID := uuid.New()
	updated, err := s.UpdateSession(ctx, sess.ID, func(cur *models.Session) (*models.Message, error) {
		calls++
		if calls == 1 { // another replica's write gets in between our read and our write
			if _, err := other.UpdateSession(ctx, sess.ID, func(other *models.Session) (*models.Message, error) {
				other.RenewalCount += 10
				return nil, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		cur.RenewalCount++
		return &models.Message{ID: msgID, SessionID: cur.ID, AuthorID: cur.UserID, Content: "x",
			Metadata: models.JSONObject("{}"), CreatedAt: now}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || updated.RenewalCount != 11 {
		t.Errorf("apply ran %d times, renewal count %d; want 2 and 11 (the other write kept)", calls, updated.RenewalCount)
	}
	stored, err := s.FindSession(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	var messages int64
	s.DB().Table("messages").Where("session_id = ?", sess.ID).Count(&messages)
	if stored.RenewalCount != 11 || stored.Version != 2 || messages != 1 {
		t.Errorf("stored renewal_count %d, version %d, %d messages; want 11, 2, 1", stored.RenewalCount, stored.Version, messages)
	}
}

// TestRememberedSessionsAreNeverTrusted: a replica starts a send from the
// copy of the session it wrote last, but the version guard decides. When
// another replica wrote since, the write misses and the send is redone on
// the stored state; a rule that refuses on the remembered copy is checked
// again on the stored state; a session deleted elsewhere is not found.
func TestRememberedSessionsAreNeverTrusted(t *testing.T) {
	ctx := context.Background()
	url := testutil.DatabaseURL(t, store.Postgres)
	a, b := testutil.OpenStoreAt(t, url), testutil.OpenStoreAt(t, url)
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	sess := seedSession(t, a, now)
	update := func(s *store.Store, rule func(*models.Session) error) (seen []int, err error) {
		_, err = s.UpdateSession(ctx, sess.ID, func(cur *models.Session) (*models.Message, error) {
			seen = append(seen, cur.RenewalCount)
			if rule != nil {
				if err := rule(cur); err != nil {
					return nil, err
				}
			}
			cur.RenewalCount++
			return nil, nil
		})
		return seen, err
	}
	mustSee := func(s *store.Store, rule func(*models.Session) error, want ...int) {
		t.Helper()
		seen, err := update(s, rule)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(seen, want) {
			t.Errorf("apply saw renewal counts %v, want %v", seen, want)
		}
	}

	mustSee(a, nil, 0)    // read, written, remembered at 1
	mustSee(a, nil, 1)    // from memory: one round trip
	mustSee(b, nil, 2)    // the other replica moves it to 3
	mustSee(a, nil, 2, 3) // a's copy (2) is stale: the guarded write misses, redone on 3
	mustSee(b, nil, 3, 4) // and so is b's (3)

	atLeastFive := func(cur *models.Session) error {
		if cur.RenewalCount < 5 {
			return models.ErrValidation("refused on a stale copy")
		}
		return nil
	}
	mustSee(a, atLeastFive, 4, 5) // refused on the copy (4), allowed on the stored state (5)

	if err := b.DeleteSession(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	if seen, err := update(a, nil); !errors.Is(err, models.ErrNotFound) || !slices.Equal(seen, []int{6}) {
		t.Errorf("update of a session deleted elsewhere: saw %v, err %v; want [6] and not found", seen, err)
	}
	stored := 0
	a.DB().Table("sessions").Where("id = ?", sess.ID).Select("count(*)").Scan(&stored)
	if stored != 0 {
		t.Error("the deleted session came back")
	}
}

// seedSession registers an agent and opens a session with the default
// policy at now, through s.
func seedSession(t *testing.T, s *store.Store, now time.Time) *models.Session {
	t.Helper()
	ctx := context.Background()
	agent := &models.Agent{ID: uuid.New(), Name: "a", CreatedAt: now}
	if err := s.CreateAgent(ctx, agent); err != nil {
		t.Fatal(err)
	}
	sess := models.NewSession(uuid.New(), agent.ID, uuid.New(), nil, models.DefaultSessionPolicy().Resolve(), now)
	sess.Metadata = models.JSONObject("{}")
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	return sess
}

// TestConcurrentSendsToOneSessionTakeTurns: in one process, sends to one
// session wait for each other instead of racing, so each starts from the
// copy the previous one wrote and none is redone (apply runs once per send).
func TestConcurrentSendsToOneSessionTakeTurns(t *testing.T) {
	ctx := context.Background()
	s := testutil.OpenStoreAt(t, testutil.DatabaseURL(t, store.Postgres))
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	sess := seedSession(t, s, now)
	const senders = 32
	var applies atomic.Int64
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			_, err := s.UpdateSession(ctx, sess.ID, func(cur *models.Session) (*models.Message, error) {
				applies.Add(1)
				cur.RenewalCount++
				return &models.Message{ID: uuid.New(), SessionID: cur.ID, AuthorID: cur.UserID, Content: "x",
					Metadata: models.JSONObject("{}"), CreatedAt: now}, nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	stored, err := s.FindSession(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.RenewalCount != senders || applies.Load() != senders {
		t.Errorf("renewal count %d after %d applies, want %d and %d (no send redone)", stored.RenewalCount, applies.Load(), senders, senders)
	}
}

// TestWaitingForATurnEndsWithTheContext: a send queued behind a slow one
// to the same session gives up when its request does, and is not applied.
func TestWaitingForATurnEndsWithTheContext(t *testing.T) {
	ctx := context.Background()
	s := testutil.OpenStoreAt(t, testutil.DatabaseURL(t, store.Postgres))
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	sess := seedSession(t, s, now)
	inside, leave := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := s.UpdateSession(ctx, sess.ID, func(cur *models.Session) (*models.Message, error) {
			close(inside)
			<-leave
			cur.RenewalCount++
			return nil, nil
		})
		done <- err
	}()
	<-inside
	waiting, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err := s.UpdateSession(waiting, sess.ID, func(*models.Session) (*models.Message, error) {
		t.Error("apply ran for a send whose context ended while it waited")
		return nil, nil
	})
	if !errors.Is(err, models.ErrUnavailable()) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting send: %v, want unavailable (its deadline passed)", err)
	}
	close(leave)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stored, err := s.FindSession(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.RenewalCount != 1 {
		t.Errorf("renewal count %d, want 1", stored.RenewalCount)
	}
}
