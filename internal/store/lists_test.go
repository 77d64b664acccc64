package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// TestLatestMessages reads the newest page of several sessions at once: each
// newest first, ties on the instant broken by id as the keyset pages do, and
// sessions with no messages (or unknown) left out.
func TestLatestMessages(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		s := testutil.OpenStore(t, dialect)
		ctx := context.Background()
		busy, quiet, empty := createSession(t, s), createSession(t, s), createSession(t, s)

		stored := func(sess *models.Session, at time.Time) *models.Message {
			m := newMessage(sess, "m")
			m.CreatedAt = at
			if err := s.DB().Create(m).Error; err != nil {
				t.Fatalf("insert message: %v", err)
			}
			return m
		}
		var busyMessages []*models.Message
		for i := range 5 {
			busyMessages = append(busyMessages, stored(busy, t0.Add(time.Duration(i)*time.Second)))
		}
		// Two messages at one instant: the greater id is the newer.
		tied := stored(busy, t0.Add(4*time.Second))
		newest, second := busyMessages[4], tied
		if tied.ID.String() > newest.ID.String() {
			newest, second = tied, busyMessages[4]
		}
		quietMessage := stored(quiet, t0)

		got, err := s.LatestMessages(ctx, []uuid.UUID{busy.ID, quiet.ID, empty.ID, uuid.New()}, 3)
		if err != nil {
			t.Fatalf("LatestMessages: %v", err)
		}
		ids := func(ms []*models.Message) []uuid.UUID {
			out := make([]uuid.UUID, len(ms))
			for i, m := range ms {
				out[i] = m.ID
			}
			return out
		}
		want := map[uuid.UUID][]uuid.UUID{
			busy.ID:  {newest.ID, second.ID, busyMessages[3].ID},
			quiet.ID: {quietMessage.ID},
		}
		if len(got) != len(want) {
			t.Errorf("sessions with messages = %d, want %d", len(got), len(want))
		}
		for id, w := range want {
			if g := ids(got[id]); !slices.Equal(g, w) {
				t.Errorf("session %s: messages %v, want %v", id, g, w)
			}
		}
		if m := got[quiet.ID]; len(m) == 1 && (m[0].Content != "m" || !m[0].CreatedAt.Equal(t0) || m[0].SessionID != quiet.ID) {
			t.Errorf("quiet session's message read back as %+v", m[0])
		}
	})
}
