package store_test

import (
	"context"
	"errors"
	"reflect"
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

// TestSessionHistory reads a session and a page of its messages in one
// statement: the same session FindSession reads, the same page ListMessages
// reads (newest first, after a bound, or upwards), an empty page for a
// session without messages, and ErrNotFound for an unknown session.
func TestSessionHistory(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		s := testutil.OpenStore(t, dialect)
		ctx := context.Background()
		busy, empty := createSession(t, s), createSession(t, s)
		var stored []*models.Message
		for i := range 5 {
			m := newMessage(busy, "m")
			m.CreatedAt = t0.Add(time.Duration(i) * time.Second)
			m.IsAgent = i%2 == 1
			m.Metadata = models.JSONObject(`{"i":1}`)
			m.Attachments = models.Attachments{{Type: "image", URL: "https://example.com/a.png"}}
			m.SessionStatus = &models.SessionStatus{ExpiresAt: t0.Add(time.Hour), RenewalCount: i, WasRenewed: true}
			if err := s.DB().Create(m).Error; err != nil {
				t.Fatalf("insert message: %v", err)
			}
			stored = append(stored, m)
		}
		wantSession, err := s.FindSession(ctx, busy.ID)
		if err != nil {
			t.Fatalf("FindSession: %v", err)
		}
		third := models.KeyOf(stored[2].CreatedAt, stored[2].ID)
		for name, q := range map[string]models.ListQuery{
			"newest":        {Limit: 3},
			"older than":    {Older: &third, Limit: 3},
			"newer, upward": {Newer: &third, Limit: 3, Ascending: true},
			"whole":         {Limit: 10},
		} {
			t.Run(name, func(t *testing.T) {
				sess, page, err := s.SessionHistory(ctx, busy.ID, q)
				if err != nil {
					t.Fatalf("SessionHistory: %v", err)
				}
				if !reflect.DeepEqual(sess, wantSession) {
					t.Errorf("session\n got %+v\nwant %+v", sess, wantSession)
				}
				want, err := s.ListMessages(ctx, busy.ID, q)
				if err != nil {
					t.Fatalf("ListMessages: %v", err)
				}
				if len(page) == 0 || !reflect.DeepEqual(page, want) {
					t.Errorf("page\n got %v\nwant %v", page, want)
				}
			})
		}
		_, whole, err := s.SessionHistory(ctx, busy.ID, models.ListQuery{Limit: 10})
		if err != nil {
			t.Fatalf("SessionHistory: %v", err)
		}
		if len(whole) != len(stored) {
			t.Fatalf("whole history: %d messages, want %d", len(whole), len(stored))
		}
		for i, m := range whole {
			if want := stored[len(stored)-1-i]; !reflect.DeepEqual(m, want) {
				t.Errorf("message %d read back as\n %+v\nwant %+v", i, m, want)
			}
		}
		sess, page, err := s.SessionHistory(ctx, empty.ID, models.ListQuery{Limit: 3})
		if err != nil || sess == nil || sess.ID != empty.ID || len(page) != 0 {
			t.Errorf("session without messages: %v, %d messages, %v", sess, len(page), err)
		}
		if _, _, err := s.SessionHistory(ctx, uuid.New(), models.ListQuery{Limit: 3}); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("unknown session: %v, want ErrNotFound", err)
		}
	})
}
