package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/google/uuid"

	"sessionhub/models"
)

// Retention of the agent feed and the webhook outbox (migration 00011):
// an agent's oldest feed rows are removed by position, and the position of
// the last one removed (its horizon) is recorded in the same transaction.

// AgentFeedHorizon returns how far the retention sweep has removed an
// agent's feed (zero: nothing removed yet).
func (s *Store) AgentFeedHorizon(ctx context.Context, agentID uuid.UUID) (models.FeedPosition, error) {
	var h models.FeedPosition
	var tx string
	err := s.sql.QueryRowContext(ctx, s.q(`SELECT CAST(tx AS text), seq, done FROM agent_feed_horizons WHERE agent_id = $1`),
		agentID.String()).Scan(&tx, &h.Seq, &h.Done)
	if errors.Is(err, sql.ErrNoRows) {
		return h, nil
	}
	if err != nil {
		return h, translate(err)
	}
	h.Tx, err = strconv.ParseUint(tx, 10, 64)
	return h, err
}

var feedStartsSQL = map[Dialect]string{
	// One look-up of the feed index per agent.
	Postgres: `SELECT CAST(a.id AS text), f.occurred_at FROM agents a
		CROSS JOIN LATERAL (SELECT occurred_at FROM agent_events e WHERE e.agent_id = a.id ORDER BY e.tx, e.seq LIMIT 1) f`,
	SQLite: `SELECT id, first FROM (SELECT id, (SELECT occurred_at FROM agent_events e WHERE e.agent_id = agents.id ORDER BY e.seq LIMIT 1) AS first FROM agents)
		WHERE first IS NOT NULL`,
}

// FeedAgentsBefore lists the agents whose feed starts with a row that
// happened before cutoff: those the retention sweep has work for.
func (s *Store) FeedAgentsBefore(ctx context.Context, cutoff time.Time) ([]uuid.UUID, error) {
	rows, err := s.sql.QueryContext(ctx, feedStartsSQL[s.dialect])
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []uuid.UUID
	for rows.Next() {
		var id string
		var first any
		if err := rows.Scan(&id, &first); err != nil {
			return nil, translate(err)
		}
		// Compared here: SQLite's times are text in more than one layout.
		at, err := dbTime(first)
		if err != nil {
			return nil, err
		}
		if at.Before(cutoff) {
			parsed, _ := uuid.Parse(id)
			out = append(out, parsed)
		}
	}
	return out, translate(rows.Err())
}

var (
	oldestFeedSQL = map[Dialect]string{
		// Finished transactions only (tx below the snapshot's xmin): no row
		// can appear at or below a horizon taken among them. Ordered by the
		// columns (e.tx), not by the text output column of the same name,
		// so that it is xid order and reads the feed index.
		Postgres: `SELECT CAST(e.tx AS text), e.seq, e.kind, CAST(e.message_id AS text), e.occurred_at FROM agent_events e
			WHERE e.agent_id = $1 AND e.tx < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY e.tx, e.seq LIMIT $2`,
		SQLite: `SELECT '0', seq, kind, message_id, occurred_at FROM agent_events WHERE agent_id = ?1 ORDER BY seq LIMIT ?2`,
	}
	deleteFeedSQL = map[Dialect]string{
		Postgres: `DELETE FROM agent_events WHERE agent_id = $1 AND (tx, seq) <= (CAST(CAST($2 AS text) AS xid8), $3)`,
		SQLite:   `DELETE FROM agent_events WHERE agent_id = ?1 AND ?2 >= 0 AND seq <= ?3`,
	}
)

// DeleteAgentFeed removes up to limit of an agent's oldest feed rows, in
// feed order, up to the first one that happened at or after cutoff, and
// moves the agent's horizon to the last one removed, in one transaction.
// Several processes may sweep at once: on PostgreSQL the horizon's row
// lock makes one sweep an agent at a time, and an agent another is
// sweeping is skipped (SKIP LOCKED, 0 removed); SQLite has one writer.
func (s *Store) DeleteAgentFeed(ctx context.Context, agentID uuid.UUID, cutoff time.Time, limit int) (int, error) {
	tx, err := s.sql.BeginTx(ctx, nil)
	if err != nil {
		return 0, translate(err)
	}
	defer func() { _ = tx.Rollback() }()
	agent := agentID.String()
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO agent_feed_horizons (agent_id, tx, seq, done) VALUES ($1, `+s.xid8("$2")+`, 0, 0)
		ON CONFLICT (agent_id) DO NOTHING`), agent, s.txArg(0)); err != nil {
		return 0, translate(err)
	}
	lock := ""
	if s.dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var held int
	err = tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM agent_feed_horizons WHERE agent_id = $1`+lock), agent).Scan(&held)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil // another replica is sweeping this agent
	}
	if err != nil {
		return 0, translate(err)
	}

	end, kind, messageID, found, err := s.oldestBefore(ctx, tx, agent, cutoff, limit)
	if err != nil || !found {
		return 0, err
	}
	// The horizon says how many events its row stood for, so that a cursor
	// between a message and its renewal is told that the renewal is gone.
	row := models.FeedRow{Kind: models.EventKind(kind)}
	if kind == "message" {
		row.Kind = models.EventMessageAdded
		var status sql.NullString
		err := tx.QueryRowContext(ctx, s.q(`SELECT CAST(session_status AS text) FROM messages WHERE id = $1`), messageID).Scan(&status)
		switch {
		case errors.Is(err, sql.ErrNoRows): // gone with its session: no event
		case err != nil:
			return 0, translate(err)
		default:
			row.Message = &models.Message{}
			if status.Valid {
				row.Message.SessionStatus = &models.SessionStatus{}
				if err := row.Message.SessionStatus.Scan(status.String); err != nil {
					return 0, err
				}
			}
		}
	}
	end.Done = len(row.Events())

	res, err := tx.ExecContext(ctx, deleteFeedSQL[s.dialect], agent, s.txArg(end.Tx), end.Seq)
	if err != nil {
		return 0, translate(err)
	}
	removed, _ := res.RowsAffected()
	// Only forward, whatever an operator did to the table.
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE agent_feed_horizons SET tx = `+s.xid8("$2")+`, seq = $3, done = $4
		WHERE agent_id = $1 AND (tx, seq, done) < (`+s.xid8("$2")+`, $3, $4)`), agent, s.txArg(end.Tx), end.Seq, end.Done); err != nil {
		return 0, translate(err)
	}
	if err := tx.Commit(); err != nil {
		return 0, translate(err)
	}
	return int(removed), nil
}

// oldestBefore finds the last of an agent's first limit feed rows that all
// happened before cutoff: the sweep removes up to it. A newer row stops the
// run, so that nothing that happened after cutoff is removed even where
// the feed's order and its times disagree (clocks of different replicas).
func (s *Store) oldestBefore(ctx context.Context, tx *sql.Tx, agent string, cutoff time.Time, limit int) (end models.FeedPosition, kind, messageID string, found bool, err error) {
	rows, err := tx.QueryContext(ctx, oldestFeedSQL[s.dialect], agent, limit)
	if err != nil {
		return end, "", "", false, translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var txID string
		var seq int64
		var rowKind string
		var message sql.NullString
		var occurredAt any
		if err := rows.Scan(&txID, &seq, &rowKind, &message, &occurredAt); err != nil {
			return end, "", "", false, translate(err)
		}
		at, err := dbTime(occurredAt)
		if err != nil {
			return end, "", "", false, err
		}
		if !at.Before(cutoff) {
			break
		}
		if end.Tx, err = strconv.ParseUint(txID, 10, 64); err != nil {
			return end, "", "", false, err
		}
		end.Seq, kind, messageID, found = seq, rowKind, message.String, true
	}
	return end, kind, messageID, found, translate(rows.Err())
}

// DeleteFinishedDeliveries removes up to limit delivered or failed webhook
// deliveries created before cutoff; pending ones are never removed. Safe
// to run from several processes at once.
func (s *Store) DeleteFinishedDeliveries(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	lock := ""
	if s.dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	res, err := s.sql.ExecContext(ctx, s.q(`DELETE FROM webhook_deliveries WHERE id IN (
		SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1 ORDER BY created_at LIMIT $2`+lock+`)`),
		s.timeArg(cutoff), limit)
	if err != nil {
		return 0, translate(err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
