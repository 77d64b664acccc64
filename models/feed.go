package models

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// EventCreated: a session was opened (agent feed and bus only; a session's
// own subscribers cannot exist before it does).
const EventCreated EventKind = "created"

// FeedPosition is a place in an agent's feed (SPEC §8): the stored row
// (Tx, Seq) and how many of the events that row expands into were handed
// out (a message that renewed is two events). Tx is the writing
// transaction's id on PostgreSQL and 0 on SQLite.
type FeedPosition struct {
	Tx   uint64
	Seq  int64
	Done int
}

const feedCursorPrefix = "feed1:"

// Cursor is the position as an opaque string, for agentEvents(after:).
func (p FeedPosition) Cursor() string {
	raw := feedCursorPrefix + strconv.FormatUint(p.Tx, 10) + ":" + strconv.FormatInt(p.Seq, 10) + ":" + strconv.Itoa(p.Done)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// ParseFeedCursor decodes a cursor made by FeedPosition.Cursor.
// Errors: VALIDATION_ERROR.
func ParseFeedCursor(cursor string) (FeedPosition, error) {
	invalid := ErrValidation("Invalid cursor", Detail{"cursor", cursor})
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return FeedPosition{}, invalid
	}
	rest, ok := strings.CutPrefix(string(raw), feedCursorPrefix)
	if !ok {
		return FeedPosition{}, invalid
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return FeedPosition{}, invalid
	}
	tx, err1 := strconv.ParseUint(parts[0], 10, 64)
	seq, err2 := strconv.ParseInt(parts[1], 10, 64)
	done, err3 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || seq < 0 || done < 0 || done > 2 {
		return FeedPosition{}, invalid
	}
	return FeedPosition{Tx: tx, Seq: seq, Done: done}, nil
}

// Before reports whether p comes before row (tx, seq).
func (p FeedPosition) Before(tx uint64, seq int64) bool {
	return p.Tx < tx || p.Tx == tx && p.Seq < seq
}

// Less reports whether p comes before q: an earlier row, or fewer of one
// row's events handed out.
func (p FeedPosition) Less(q FeedPosition) bool {
	return p.Before(q.Tx, q.Seq) || p.Tx == q.Tx && p.Seq == q.Seq && p.Done < q.Done
}

// FeedPage is one read of an agent's feed.
type FeedPage struct {
	Rows []FeedRow
	// Pending: rows of transactions still running wait behind the last row
	// (read again shortly).
	Pending bool
	// Horizon is how far the retention sweep has removed the agent's feed:
	// the last row removed, Done being how many events it stood for (zero:
	// nothing removed). A position Less than it has missed events. It is
	// read in the same statement as Rows, so the two always agree.
	Horizon FeedPosition
}

// FeedRow is one stored change of an agent's feed.
type FeedRow struct {
	Tx         uint64
	Seq        int64
	AgentID    uuid.UUID
	SessionID  uuid.UUID
	Kind       EventKind // EventMessageAdded for a message row; EventRenewed also for "reconfigured"
	Renewed    bool      // EventRenewed: the lifetime was renewed (not only reconfigured)
	OccurredAt time.Time
	Message    *Message // message rows; nil when the message is gone with its session
	Session    *Session // other rows: the session as the change left it (as it was, when deleted)
}

// FeedEvent is one event of an agent's feed and its position.
type FeedEvent struct {
	Position FeedPosition
	Event    Event
	// Session is the session as the change left it (for a deleted session:
	// as it was last stored); nil for message events.
	Session *Session
}

// Events expands a row into the events it stands for, each with its
// position: a message that renewed its session is a message event then a
// renewal. A message gone with its deleted session yields nothing (the
// deletion follows in the feed).
func (r FeedRow) Events() []FeedEvent {
	at := func(done int) FeedPosition { return FeedPosition{Tx: r.Tx, Seq: r.Seq, Done: done} }
	base := Event{Kind: r.Kind, SessionID: r.SessionID, AgentID: r.AgentID, OccurredAt: r.OccurredAt}
	switch r.Kind {
	case EventMessageAdded:
		if r.Message == nil {
			return nil
		}
		base.Message = r.Message
		out := []FeedEvent{{Position: at(1), Event: base}}
		if st := r.Message.SessionStatus; st != nil && st.WasRenewed {
			out = append(out, FeedEvent{Position: at(2), Event: Event{Kind: EventRenewed, SessionID: r.SessionID,
				AgentID: r.AgentID, OccurredAt: r.OccurredAt, Status: st}})
		}
		return out
	case EventRenewed:
		if r.Session != nil {
			st := r.Session.StatusAt(r.OccurredAt)
			st.WasRenewed = r.Renewed
			base.Status = &st
		}
	case EventNearExpiration, EventExpired:
		if r.Session != nil {
			base.ExpiresAt = r.Session.ExpiresAt
		}
	}
	return []FeedEvent{{Position: at(1), Event: base, Session: r.Session}}
}
