package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"sessionhub/models"
)

// The agent feed is written by triggers (migration 00008), in the
// transaction of the change itself; here it is only read.

var readFeedSQL = map[Dialect]string{
	// Only rows of transactions older than the snapshot's xmin: every one of
	// them has finished, and every row still to come has a larger tx, so the
	// (tx, seq) order handed out never gains a row behind a cursor.
	Postgres: `SELECT tx::text, seq, agent_id::text, session_id::text, kind, message_id::text, occurred_at, session::text,
			tx < pg_snapshot_xmin(pg_current_snapshot()) AS settled
		FROM agent_events
		WHERE agent_id = $1 AND (tx, seq) >= (CAST(CAST($2 AS text) AS xid8), $3)
		ORDER BY tx, seq LIMIT $4`,
	// One writer at a time: seq order is commit order.
	SQLite: `SELECT '0', seq, agent_id, session_id, kind, message_id, occurred_at, session, 1
		FROM agent_events
		WHERE agent_id = ? AND ? >= 0 AND seq >= ?
		ORDER BY seq LIMIT ?`,
}

// ReadAgentFeed returns up to limit rows of an agent's feed from position
// from (its row included), oldest first, message rows with their messages.
// pending reports that rows of transactions still running wait behind the
// last row returned (read again shortly).
func (s *Store) ReadAgentFeed(ctx context.Context, agentID uuid.UUID, from models.FeedPosition, limit int) (rows []models.FeedRow, pending bool, err error) {
	args := []any{agentID.String(), strconv.FormatUint(from.Tx, 10), from.Seq, limit}
	if s.dialect == SQLite {
		args[1] = 0
	}
	result, err := s.sql.QueryContext(ctx, readFeedSQL[s.dialect], args...)
	if err != nil {
		return nil, false, translate(err)
	}
	defer result.Close()
	var messageIDs []uuid.UUID
	for result.Next() {
		var (
			r                        models.FeedRow
			tx, agent, session, kind string
			messageID, snapshot      sql.NullString
			occurredAt               any
			settled                  bool
		)
		if err := result.Scan(&tx, &r.Seq, &agent, &session, &kind, &messageID, &occurredAt, &snapshot, &settled); err != nil {
			return nil, false, translate(err)
		}
		if !settled {
			pending = true
			break
		}
		if r.Tx, err = strconv.ParseUint(tx, 10, 64); err != nil {
			return nil, false, err
		}
		r.AgentID, _ = uuid.Parse(agent)
		r.SessionID, _ = uuid.Parse(session)
		if r.OccurredAt, err = dbTime(occurredAt); err != nil {
			return nil, false, err
		}
		switch kind {
		case "message":
			r.Kind = models.EventMessageAdded
			id, _ := uuid.Parse(messageID.String)
			r.Message = &models.Message{ID: id} // filled below
			messageIDs = append(messageIDs, id)
		case "renewed", "reconfigured":
			r.Kind, r.Renewed = models.EventRenewed, kind == "renewed"
		default:
			r.Kind = models.EventKind(kind)
		}
		if snapshot.Valid {
			if r.Session, err = decodeSnapshot(snapshot.String); err != nil {
				return nil, false, err
			}
		}
		rows = append(rows, r)
	}
	if err := result.Err(); err != nil {
		return nil, false, translate(err)
	}
	if len(messageIDs) == 0 {
		return rows, pending, nil
	}
	messages, err := s.FindMessages(ctx, messageIDs)
	if err != nil {
		return nil, false, err
	}
	byID := make(map[uuid.UUID]*models.Message, len(messages))
	for _, m := range messages {
		byID[m.ID] = m
	}
	for i := range rows {
		if rows[i].Message != nil {
			rows[i].Message = byID[rows[i].Message.ID] // nil: gone with its session
		}
	}
	return rows, pending, nil
}

var feedHeadSQL = map[Dialect]string{
	// Rows of every transaction from the oldest one still running on come
	// after this position.
	Postgres: `SELECT pg_snapshot_xmin(pg_current_snapshot())::text, 0`,
	SQLite:   `SELECT '0', COALESCE(MAX(seq), 0) FROM agent_events WHERE agent_id = ?`,
}

// AgentFeedHead is the position after everything an agent's feed holds now:
// a follower starting there hears what happens next.
func (s *Store) AgentFeedHead(ctx context.Context, agentID uuid.UUID) (models.FeedPosition, error) {
	var args []any
	if s.dialect == SQLite {
		args = append(args, agentID.String())
	}
	var tx string
	var pos models.FeedPosition
	if err := s.sql.QueryRowContext(ctx, feedHeadSQL[s.dialect], args...).Scan(&tx, &pos.Seq); err != nil {
		return pos, translate(err)
	}
	var err error
	pos.Tx, err = strconv.ParseUint(tx, 10, 64)
	pos.Done = 2 // the row at the head (SQLite) is history, all of it
	return pos, err
}

// feedSession is the session snapshot the feed's triggers store.
type feedSession struct {
	ID                      uuid.UUID         `json:"id"`
	AgentID                 uuid.UUID         `json:"agentId"`
	UserID                  uuid.UUID         `json:"userId"`
	Metadata                models.JSONObject `json:"metadata"`
	CreatedAt               string            `json:"createdAt"`
	LastActivity            string            `json:"lastActivity"`
	ExpiresAt               string            `json:"expiresAt"`
	RenewalCount            int               `json:"renewalCount"`
	TimeoutMinutes          int               `json:"timeoutMinutes"`
	AutoRenew               bool              `json:"autoRenew"`
	MaxDurationMinutes      int               `json:"maxDurationMinutes"`
	WarningThresholdMinutes int               `json:"warningThresholdMinutes"`
}

func decodeSnapshot(text string) (*models.Session, error) {
	var f feedSession
	if err := json.Unmarshal([]byte(text), &f); err != nil {
		return nil, fmt.Errorf("agent feed: session snapshot: %w", err)
	}
	s := &models.Session{ID: f.ID, AgentID: f.AgentID, UserID: f.UserID, Metadata: f.Metadata.OrEmpty(), RenewalCount: f.RenewalCount,
		TimeoutConfig: models.TimeoutConfig{TimeoutMinutes: f.TimeoutMinutes, AutoRenew: f.AutoRenew,
			MaxDurationMinutes: f.MaxDurationMinutes, WarningThresholdMinutes: f.WarningThresholdMinutes}}
	var err error
	for _, t := range []struct {
		dst *time.Time
		src string
	}{{&s.CreatedAt, f.CreatedAt}, {&s.LastActivity, f.LastActivity}, {&s.ExpiresAt, f.ExpiresAt}} {
		if *t.dst, err = dbTime(t.src); err != nil {
			return nil, err
		}
	}
	return s, nil
}
