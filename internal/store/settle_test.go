package store_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// proxiedStore opens a store whose connections pass through a TCP proxy the
// test can stall or cut, and a direct store on the same database to look.
func proxiedStore(t *testing.T) (through, direct *store.Store, proxy *testutil.Proxy) {
	t.Helper()
	dbURL := testutil.DatabaseURL(t, store.Postgres)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy = testutil.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	return testutil.OpenStoreAt(t, u.String()), testutil.OpenStoreAt(t, dbURL), proxy
}

func sendWith(ctx context.Context, s *store.Store, sessionID uuid.UUID, msgID uuid.UUID, now time.Time) error {
	_, err := s.UpdateSession(ctx, sessionID, func(cur *models.Session) (*models.Message, error) {
		cur.RenewalCount++
		return &models.Message{ID: msgID, SessionID: cur.ID, AuthorID: cur.UserID, Content: "x",
			Metadata: models.JSONObject("{}"), CreatedAt: cur.StampMessage(now)}, nil
	})
	return err
}

// warmUp sends once so that the store remembers the session and the next
// send is a single write, with no read before it.
func warmUp(t *testing.T, s *store.Store, sessionID uuid.UUID, now time.Time) {
	t.Helper()
	if err := sendWith(context.Background(), s, sessionID, uuid.New(), now); err != nil {
		t.Fatal(err)
	}
}

func messageStored(t *testing.T, s *store.Store, id uuid.UUID) bool {
	t.Helper()
	var n int64
	if err := s.DB().Table("messages").Where("id = ?", id).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// TestSendWhoseAnswerIsLostIsLookedUp: the statement reaches PostgreSQL and
// commits, but its answer is lost and the request's time runs out. The store
// looks the message up once the database answers again, and reports success
// instead of an outage that would invite a duplicate.
func TestSendWhoseAnswerIsLostIsLookedUp(t *testing.T) {
	through, direct, proxy := proxiedStore(t)
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	sess := seedSession(t, through, now)
	warmUp(t, through, sess.ID, now)

	proxy.StallReplies()
	go func() { time.Sleep(1500 * time.Millisecond); proxy.Resume() }()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	msgID := uuid.New()
	if err := sendWith(ctx, through, sess.ID, msgID, now); err != nil {
		t.Fatalf("send whose commit was confirmed by the look-up failed: %v", err)
	}
	if !messageStored(t, direct, msgID) {
		t.Fatal("send reported success but the message is not stored")
	}
	// The session was fenced: a copy remembered from before must not be trusted.
	if err := sendWith(context.Background(), through, sess.ID, uuid.New(), now); err != nil {
		t.Fatalf("next send: %v", err)
	}
	stored, err := direct.FindSession(context.Background(), sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.RenewalCount != 3 {
		t.Errorf("renewal count %d after three sends, want 3", stored.RenewalCount)
	}
}

// TestSendWhoseOutcomeCannotBeLearnedSaysSo: the database never answers again
// within the request's time: the send fails with UNAVAILABLE carrying
// details.messageId, so the client can look for that message instead of
// sending a duplicate.
func TestSendWhoseOutcomeCannotBeLearnedSaysSo(t *testing.T) {
	through, direct, proxy := proxiedStore(t)
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	sess := seedSession(t, through, now)
	warmUp(t, through, sess.ID, now)

	proxy.StallReplies()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	msgID := uuid.New()
	err := sendWith(ctx, through, sess.ID, msgID, now)
	proxy.Resume()
	appErr := models.AsError(err)
	if appErr.Code != models.CodeUnavailable || appErr.Details.Map()["messageId"] != msgID.String() {
		t.Fatalf("err = %v (details %v), want UNAVAILABLE with details.messageId %s", err, appErr.Details.Map(), msgID)
	}
	if !messageStored(t, direct, msgID) {
		t.Log("the message did not commit (the answer said it might have)")
	}
}

// TestSendThatNeverReachedTheDatabaseIsNotStored: the connection is cut
// before the statement gets through; the look-up finds no message (and
// fences the session so a late arrival could not commit), so the send fails
// with a plain UNAVAILABLE: retrying is safe.
func TestSendThatNeverReachedTheDatabaseIsNotStored(t *testing.T) {
	through, direct, proxy := proxiedStore(t)
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	sess := seedSession(t, through, now)
	warmUp(t, through, sess.ID, now)

	proxy.Stall()
	go func() { // the held request is dropped with its connection; new ones get through
		time.Sleep(700 * time.Millisecond)
		proxy.Cut()
		proxy.Resume()
		proxy.Restore()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	msgID := uuid.New()
	err := sendWith(ctx, through, sess.ID, msgID, now)
	proxy.Resume()
	appErr := models.AsError(err)
	if appErr.Code != models.CodeUnavailable || appErr.Details.Map()["messageId"] != nil {
		t.Fatalf("err = %v (details %v), want a plain UNAVAILABLE", err, appErr.Details.Map())
	}
	if messageStored(t, direct, msgID) {
		t.Fatal("the send failed but its message is stored")
	}
}
