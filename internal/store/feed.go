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
	// (tx, seq) order handed out never gains a row behind a cursor. The
	// agent's retention horizon comes with every row (and alone when there
	// is none), read in the same snapshot as the rows: a sweep commits its
	// deletions and its horizon together, so a reader sees both or neither.
	// Ordered by the xid8 column (e.tx), never by a text output column of
	// the same name: "10" sorts before "9".
	Postgres: `SELECT CAST(h.tx AS text), h.seq, h.done,
			CAST(e.tx AS text), e.seq, CAST(e.agent_id AS text), CAST(e.session_id AS text), e.kind, CAST(e.message_id AS text),
			e.occurred_at, CAST(e.session AS text), e.tx < pg_snapshot_xmin(pg_current_snapshot())
		FROM (SELECT 1) AS one
		LEFT JOIN agent_feed_horizons h ON h.agent_id = $1
		LEFT JOIN LATERAL (SELECT * FROM agent_events
			WHERE agent_id = $1 AND (tx, seq) >= (CAST(CAST($2 AS text) AS xid8), $3)
			ORDER BY tx, seq LIMIT $4) e ON true
		ORDER BY e.tx, e.seq`,
	// One writer at a time: seq order is commit order.
	SQLite: `SELECT CAST(h.tx AS text), h.seq, h.done,
			CASE WHEN e.seq IS NULL THEN NULL ELSE '0' END, e.seq, e.agent_id, e.session_id, e.kind, e.message_id,
			e.occurred_at, e.session, 1
		FROM (SELECT 1) AS one
		LEFT JOIN agent_feed_horizons h ON h.agent_id = ?1
		LEFT JOIN (SELECT * FROM agent_events
			WHERE agent_id = ?1 AND ?2 >= 0 AND seq >= ?3
			ORDER BY seq LIMIT ?4) e ON 1
		ORDER BY e.seq`,
}

// ReadAgentFeed returns up to limit rows of an agent's feed from position
// from (its row included), oldest first, message rows with their messages,
// and the feed's retention horizon as of the same read. Pending reports
// that rows of transactions still running wait behind the last row
// returned (read again shortly).
func (s *Store) ReadAgentFeed(ctx context.Context, agentID uuid.UUID, from models.FeedPosition, limit int) (models.FeedPage, error) {
	var page models.FeedPage
	args := []any{agentID.String(), strconv.FormatUint(from.Tx, 10), from.Seq, limit}
	if s.dialect == SQLite {
		args[1] = 0
	}
	result, err := s.sql.QueryContext(ctx, readFeedSQL[s.dialect], args...)
	if err != nil {
		return page, translate(err)
	}
	defer result.Close()
	var messageIDs []uuid.UUID
	for result.Next() {
		var (
			r                                   models.FeedRow
			horizonTx, tx, agent, session, kind sql.NullString
			horizonSeq, horizonDone, seq        sql.NullInt64
			messageID, snapshot                 sql.NullString
			occurredAt                          any
			settled                             sql.NullBool
		)
		if err := result.Scan(&horizonTx, &horizonSeq, &horizonDone, &tx, &seq, &agent, &session, &kind, &messageID, &occurredAt, &snapshot, &settled); err != nil {
			return page, translate(err)
		}
		if horizonTx.Valid {
			if page.Horizon.Tx, err = strconv.ParseUint(horizonTx.String, 10, 64); err != nil {
				return page, err
			}
			page.Horizon.Seq, page.Horizon.Done = horizonSeq.Int64, int(horizonDone.Int64)
		}
		if !seq.Valid || page.Pending {
			continue // no rows (the horizon alone), or behind a pending one
		}
		if !settled.Bool {
			page.Pending = true
			continue
		}
		if r.Tx, err = strconv.ParseUint(tx.String, 10, 64); err != nil {
			return page, err
		}
		r.Seq = seq.Int64
		r.AgentID, _ = uuid.Parse(agent.String)
		r.SessionID, _ = uuid.Parse(session.String)
		if r.OccurredAt, err = dbTime(occurredAt); err != nil {
			return page, err
		}
		switch kind.String {
		case "message":
			r.Kind = models.EventMessageAdded
			id, _ := uuid.Parse(messageID.String)
			r.Message = &models.Message{ID: id} // filled below
			messageIDs = append(messageIDs, id)
		case "renewed", "reconfigured":
			r.Kind, r.Renewed = models.EventRenewed, kind.String == "renewed"
		default:
			r.Kind = models.EventKind(kind.String)
		}
		if snapshot.Valid {
			if r.Session, err = decodeSnapshot(snapshot.String); err != nil {
				return page, err
			}
		}
		page.Rows = append(page.Rows, r)
	}
	if err := result.Err(); err != nil {
		return page, translate(err)
	}
	if len(messageIDs) == 0 {
		return page, nil
	}
	// On the primary, where the rows were read: a standby that has not
	// replayed these messages yet would make them look deleted with their
	// session, and every reader of the feed would pass them by for good.
	messages, err := messagesByID(s.db.WithContext(ctx), messageIDs)
	if err != nil {
		return page, translate(err)
	}
	byID := make(map[uuid.UUID]*models.Message, len(messages))
	for _, m := range messages {
		byID[m.ID] = m
	}
	for i := range page.Rows {
		if page.Rows[i].Message != nil {
			page.Rows[i].Message = byID[page.Rows[i].Message.ID] // nil: gone with its session
		}
	}
	return page, nil
}

var feedHeadSQL = map[Dialect]string{
	// Rows of every transaction from the oldest one still running on come
	// after this position.
	Postgres: `SELECT pg_snapshot_xmin(pg_current_snapshot())::text, 0`,
	// The horizon too: once the retention sweep removed all of an agent's
	// rows, the head is still after them.
	SQLite: `SELECT '0', MAX(COALESCE((SELECT MAX(seq) FROM agent_events WHERE agent_id = ?1), 0),
		COALESCE((SELECT seq FROM agent_feed_horizons WHERE agent_id = ?1), 0))`,
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
