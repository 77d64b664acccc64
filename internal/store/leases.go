package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"sessionhub/models"
)

// Webhook deliveries are leased by session: only a session's oldest
// pending delivery may be attempted (its events arrive in order), and
// webhook_session_heads (migration 00012) holds that delivery for every
// session that has one pending, with its next attempt. Three writers keep
// it, each locking the session's row, so that none of them decides on a
// state another one is changing:
//
//   - the draw (headSessions) gives a session without a head its first new
//     delivery, and locks the head of one that has one;
//   - the lease (ClaimDeliveries) moves the heads it takes to the lease's
//     end, with their deliveries;
//   - the end of an attempt (FinishAttempt) moves the head to the retry's
//     time, or to the session's next pending delivery, or removes it.
//
// A draw and an attempt's end on one session thus take turns: the one
// that waited reads what the other committed.

// headSessions gives each session of freshly drawn deliveries (in feed
// order) a head if it has none: its first new one. A session with a head
// keeps it, and its row is locked until the draw commits (the WHERE that is
// never true still locks), so that an attempt ending meanwhile sees the new
// deliveries when it looks for the next one.
func (s *Store) headSessions(ctx context.Context, tx *sql.Tx, deliveries []*models.Delivery) error {
	first := map[uuid.UUID]*models.Delivery{}
	for _, d := range deliveries {
		if first[d.SessionID] == nil {
			first[d.SessionID] = d
		}
	}
	heads := make([]*models.Delivery, 0, len(first))
	for _, d := range first {
		heads = append(heads, d)
	}
	// One order for every draw's locks.
	slices.SortFunc(heads, func(a, b *models.Delivery) int { return strings.Compare(a.SessionID.String(), b.SessionID.String()) })
	for chunk := range slices.Chunk(heads, insertChunk) {
		var sb strings.Builder
		sb.WriteString(`INSERT INTO webhook_session_heads (session_id, agent_id, delivery_id, next_attempt_at) VALUES `)
		args := make([]any, 0, len(chunk)*4)
		for i, d := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&sb, "($%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4)
			// A drawn delivery is due when it is made (commitDraw's insert).
			args = append(args, d.SessionID.String(), d.AgentID.String(), d.ID.String(), s.timeArg(d.CreatedAt))
		}
		sb.WriteString(` ON CONFLICT (session_id) DO UPDATE SET agent_id = excluded.agent_id WHERE 1 = 0`)
		if _, err := tx.ExecContext(ctx, s.q(sb.String()), args...); err != nil {
			return translate(err)
		}
	}
	return nil
}

// dueHeadsSQL picks the due heads to lease: of agents that have a webhook
// (a removed one's deliveries wait until it is set again), at most $3 of
// one agent unless the claim gives the agent a bound of its own (%[3]s),
// none of the agents skipped (%[1]s), at most $2 in all, oldest due first.
// Only the oldest $4 due heads are ranked, so a lease stays cheap however
// many are due. PostgreSQL refuses FOR UPDATE next to a window function, so
// the rows are locked one level up, where the due test is repeated: a head
// another replica leased after this statement began fails it when re-read
// under the lock and is skipped.
const dueHeadsSQL = `SELECT h.session_id, h.delivery_id FROM webhook_session_heads h
	WHERE h.next_attempt_at <= $1 AND h.session_id IN (
		SELECT r.session_id FROM (
			SELECT c.session_id, c.agent_id, ROW_NUMBER() OVER (PARTITION BY c.agent_id ORDER BY c.next_attempt_at, c.delivery_id) AS n
			FROM (
				SELECT x.session_id, x.agent_id, x.delivery_id, x.next_attempt_at FROM webhook_session_heads x
				WHERE x.next_attempt_at <= $1%[1]s
				  AND EXISTS (SELECT 1 FROM agent_webhooks w WHERE w.agent_id = x.agent_id)
				ORDER BY x.next_attempt_at, x.delivery_id LIMIT $4) c) r
		WHERE r.n <= %[3]s)
	ORDER BY h.next_attempt_at, h.delivery_id LIMIT $2%[2]s`

// claimWindow is how many due heads one claim ranks per delivery it may
// take.
const claimWindow = 8

// ClaimDeliveries leases up to limit due deliveries until leaseUntil, each
// the oldest pending one of its session, at most perAgent of one agent,
// except that an agent in room takes at most its own number (those with
// attempts in flight in this process; 0: none). On PostgreSQL heads another
// transaction holds are skipped (SKIP LOCKED), so concurrent claimers never
// take the same delivery.
func (s *Store) ClaimDeliveries(ctx context.Context, now, leaseUntil time.Time, limit, perAgent int, room map[uuid.UUID]int) ([]*models.Delivery, error) {
	tx, err := s.sql.BeginTx(ctx, nil)
	if err != nil {
		return nil, translate(err)
	}
	defer func() { _ = tx.Rollback() }()
	sessions, deliveries, err := s.dueHeads(ctx, tx, now, limit, perAgent, room)
	if err != nil || len(deliveries) == 0 {
		return nil, err
	}
	leased, err := s.leaseHeads(ctx, tx, sessions, deliveries, leaseUntil)
	if err != nil {
		return nil, err
	}
	return leased, translate(tx.Commit())
}

// dueHeads locks the heads a claim takes (dueHeadsSQL) and returns their
// sessions and deliveries, as statement arguments.
func (s *Store) dueHeads(ctx context.Context, tx *sql.Tx, now time.Time, limit, perAgent int, room map[uuid.UUID]int) (sessions, deliveries []any, err error) {
	args := []any{s.timeArg(now), limit, perAgent, limit * claimWindow}
	param := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	// The skipped agents' parameters first, then the bounded ones': the
	// text then depends only on how many of each (it is a prepared
	// statement per text on PostgreSQL), not on the map's order.
	var skip, bounds []string
	for agent, n := range room {
		if n <= 0 {
			skip = append(skip, param(agent.String()))
		}
	}
	for agent, n := range room {
		if n > 0 {
			bounds = append(bounds, "WHEN "+param(agent.String())+" THEN CAST("+param(n)+" AS INTEGER)")
		}
	}
	skipped := ""
	if len(skip) > 0 {
		skipped = " AND x.agent_id NOT IN (" + strings.Join(skip, ", ") + ")"
	}
	bound := "CAST($3 AS INTEGER)"
	if len(bounds) > 0 {
		bound = "CASE r.agent_id " + strings.Join(bounds, " ") + " ELSE " + bound + " END"
	}
	lock := ""
	if s.dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	rows, err := tx.QueryContext(ctx, s.q(fmt.Sprintf(dueHeadsSQL, skipped, lock, bound)), args...)
	if err != nil {
		return nil, nil, translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var session, delivery string
		if err := rows.Scan(&session, &delivery); err != nil {
			return nil, nil, translate(err)
		}
		sessions, deliveries = append(sessions, session), append(deliveries, delivery)
	}
	return sessions, deliveries, translate(rows.Err())
}

// leaseHeads moves the locked heads and their deliveries to the lease's
// end, counting an attempt, and returns the deliveries.
func (s *Store) leaseHeads(ctx context.Context, tx *sql.Tx, sessions, deliveries []any, leaseUntil time.Time) ([]*models.Delivery, error) {
	lease := s.timeArg(leaseUntil)
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE webhook_session_heads SET next_attempt_at = $1 WHERE session_id IN (`+placeholders(2, len(sessions))+`)`),
		append([]any{lease}, sessions...)...); err != nil {
		return nil, translate(err)
	}
	rows, err := tx.QueryContext(ctx, s.q(`UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $1
		WHERE status = 'pending' AND id IN (`+placeholders(2, len(deliveries))+`)
		RETURNING id, agent_id, session_id, event_type, body, attempts, created_at`), append([]any{lease}, deliveries...)...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []*models.Delivery
	for rows.Next() {
		d := &models.Delivery{Status: models.DeliveryPending, NextAttemptAt: leaseUntil}
		var id, agent, session, typ string
		var created any
		if err := rows.Scan(&id, &agent, &session, &typ, &d.Body, &d.Attempts, &created); err != nil {
			return nil, translate(err)
		}
		d.ID, _ = uuid.Parse(id)
		d.AgentID, _ = uuid.Parse(agent)
		d.SessionID, _ = uuid.Parse(session)
		d.Type = models.WebhookEventType(typ)
		if d.CreatedAt, err = dbTime(created); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, translate(rows.Err())
}

// placeholders is "$from, $from+1, …", n of them.
func placeholders(from, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = "$" + strconv.Itoa(from+i)
	}
	return strings.Join(ps, ", ")
}

// FinishAttempt records an attempt's outcome: delivered, failed for good,
// or pending again at nextAttemptAt with its error; and moves the session's
// head with it, holding the head's row (see the top of this file).
func (s *Store) FinishAttempt(ctx context.Context, d *models.Delivery) error {
	var delivered any
	if d.DeliveredAt != nil {
		delivered = s.timeArg(*d.DeliveredAt)
	}
	var lastError any
	if d.LastError != "" {
		lastError = d.LastError
	}
	session := d.SessionID.String()
	tx, err := s.sql.BeginTx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	defer func() { _ = tx.Rollback() }()
	if s.dialect == Postgres {
		var locked int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM webhook_session_heads WHERE session_id = $1 FOR UPDATE`, session).Scan(&locked)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return translate(err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE webhook_deliveries SET status = $2, last_error = $3, next_attempt_at = $4, delivered_at = $5 WHERE id = $1`),
		d.ID.String(), string(d.Status), lastError, s.timeArg(d.NextAttemptAt), delivered); err != nil {
		return translate(err)
	}
	if d.Status == models.DeliveryPending {
		_, err = tx.ExecContext(ctx, s.q(`UPDATE webhook_session_heads SET next_attempt_at = $2 WHERE session_id = $1 AND delivery_id = $3`),
			session, s.timeArg(d.NextAttemptAt), d.ID.String())
		if err != nil {
			return translate(err)
		}
		return translate(tx.Commit())
	}
	var next, agent string
	var due any
	err = tx.QueryRowContext(ctx, s.q(`SELECT id, agent_id, next_attempt_at FROM webhook_deliveries
		WHERE session_id = $1 AND status = 'pending' ORDER BY feed_tx, feed_seq, part LIMIT 1`), session).Scan(&next, &agent, &due)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM webhook_session_heads WHERE session_id = $1`), session)
	case err == nil:
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO webhook_session_heads (session_id, agent_id, delivery_id, next_attempt_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (session_id) DO UPDATE SET delivery_id = excluded.delivery_id, next_attempt_at = excluded.next_attempt_at`),
			session, agent, next, due)
	}
	if err != nil {
		return translate(err)
	}
	return translate(tx.Commit())
}
