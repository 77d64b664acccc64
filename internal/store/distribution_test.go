package store_test

import (
	"testing"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

// TestMessageIDsStayUnique: with the PostgreSQL primary key led by
// session_id (migration 00010), a message id is still unique across
// sessions, and history keys stay unique within one.
func TestMessageIDsStayUnique(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		s := testutil.OpenStore(t, dialect)
		first, second := createSession(t, s), createSession(t, s)
		msg := newMessage(first, "one")
		if err := s.DB().Create(msg).Error; err != nil {
			t.Fatalf("insert: %v", err)
		}
		again := *msg
		again.SessionID = second.ID
		if err := s.DB().Create(&again).Error; err == nil {
			t.Fatal("a message id was stored twice, in two sessions")
		}
		if n := countMessages(t, s, second.ID); n != 0 {
			t.Fatalf("second session holds %d messages", n)
		}
	})
}
