package store

import (
	"context"
	"database/sql"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"sessionhub/models"
)

// Webhooks: an agent's target (agent_webhooks) and the outbox of its
// deliveries (webhook_deliveries), drawn from the agent feed.

// q adapts a statement written with $n placeholders to the dialect.
func (s *Store) q(query string) string {
	if s.dialect == SQLite {
		return dollarN.ReplaceAllString(query, "?$1")
	}
	return query
}

var dollarN = regexp.MustCompile(`\$(\d+)`)

// insertChunk bounds the rows of one multi-row INSERT (9 parameters each).
const insertChunk = 200

// timeArg is a time as the dialect compares it: SQLite compares text, so
// every time is written in one fixed-width form.
func (s *Store) timeArg(t time.Time) any {
	if s.dialect == SQLite {
		return t.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return t.UTC()
}

func (s *Store) txArg(tx uint64) any {
	if s.dialect == SQLite {
		return int64(tx)
	}
	return strconv.FormatUint(tx, 10)
}

// xid8 casts a text parameter to a transaction id on PostgreSQL.
func (s *Store) xid8(param string) string {
	if s.dialect == SQLite {
		return param
	}
	return "CAST(CAST(" + param + " AS text) AS xid8)"
}

func joinTypes(types []models.WebhookEventType) string {
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = string(t)
	}
	return strings.Join(parts, ",")
}

func splitTypes(text string) []models.WebhookEventType {
	var out []models.WebhookEventType
	for p := range strings.SplitSeq(text, ",") {
		if p != "" {
			out = append(out, models.WebhookEventType(p))
		}
	}
	return out
}

// SaveWebhook sets an agent's webhook. A new one starts at the feed's head
// (events from now on); a changed one keeps its position.
// Errors: models.ErrNotFound (unknown agent).
func (s *Store) SaveWebhook(ctx context.Context, w *models.Webhook) error {
	head, err := s.AgentFeedHead(ctx, w.AgentID)
	if err != nil {
		return err
	}
	_, err = s.sql.ExecContext(ctx, s.q(`INSERT INTO agent_webhooks (agent_id, url, secret, events, feed_tx, feed_seq, created_at, updated_at)
		VALUES ($1, $2, $3, $4, `+s.xid8("$5")+`, $6, $7, $7)
		ON CONFLICT (agent_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, events = excluded.events, updated_at = excluded.updated_at`),
		w.AgentID.String(), w.URL, w.Secret, joinTypes(w.Events), s.txArg(head.Tx), head.Seq, s.timeArg(w.UpdatedAt))
	return translate(err)
}

// DeleteWebhook removes an agent's webhook; its pending deliveries stay
// pending until one is set again. Errors: models.ErrNotFound.
func (s *Store) DeleteWebhook(ctx context.Context, agentID uuid.UUID) error {
	res, err := s.sql.ExecContext(ctx, s.q(`DELETE FROM agent_webhooks WHERE agent_id = $1`), agentID.String())
	if err != nil {
		return translate(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return models.ErrNotFound
	}
	return nil
}

const webhookColumns = `agent_id, url, secret, events, CAST(feed_tx AS text), feed_seq, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanWebhook(row scanner) (*models.Webhook, error) {
	var w models.Webhook
	var agent, events, tx string
	var created, updated any
	if err := row.Scan(&agent, &w.URL, &w.Secret, &events, &tx, &w.Position.Seq, &created, &updated); err != nil {
		return nil, err
	}
	w.AgentID, _ = uuid.Parse(agent)
	w.Events = splitTypes(events)
	w.Position.Tx, _ = strconv.ParseUint(tx, 10, 64)
	w.Position.Done = 2
	var err error
	if w.CreatedAt, err = dbTime(created); err != nil {
		return nil, err
	}
	w.UpdatedAt, err = dbTime(updated)
	return &w, err
}

// FindWebhook returns an agent's webhook. Errors: models.ErrNotFound.
func (s *Store) FindWebhook(ctx context.Context, agentID uuid.UUID) (*models.Webhook, error) {
	w, err := scanWebhook(s.sql.QueryRowContext(ctx, s.q(`SELECT `+webhookColumns+` FROM agent_webhooks WHERE agent_id = $1`), agentID.String()))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, models.ErrNotFound
	}
	return w, translate(err)
}

// WebhookAgents lists the agents that have a webhook.
func (s *Store) WebhookAgents(ctx context.Context) ([]uuid.UUID, error) {
	rows, err := s.sql.QueryContext(ctx, `SELECT agent_id FROM agent_webhooks`)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []uuid.UUID
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, translate(err)
		}
		parsed, _ := uuid.Parse(id)
		out = append(out, parsed)
	}
	return out, translate(rows.Err())
}

// DrawDeliveries adds deliveries to an agent's outbox and advances its
// webhook's feed position, in one transaction, holding the webhook's row
// lock: draw is handed the webhook and returns what to add and the new
// position. On PostgreSQL a webhook another replica is drawing is skipped
// (SKIP LOCKED), so each feed row becomes deliveries exactly once.
// Without a webhook, nothing happens.
func (s *Store) DrawDeliveries(ctx context.Context, agentID uuid.UUID, draw func(*models.Webhook) ([]*models.Delivery, models.FeedPosition, error)) error {
	if s.dialect == SQLite {
		// One process, one connection: the webhook is read and drawn
		// outside the writing transaction, which then only commits if the
		// position is still the one drawn from.
		hook, err := s.FindWebhook(ctx, agentID)
		if errors.Is(err, models.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		deliveries, next, err := draw(hook)
		if err != nil {
			return err
		}
		tx, err := s.sql.BeginTx(ctx, nil)
		if err != nil {
			return translate(err)
		}
		defer func() { _ = tx.Rollback() }()
		return s.commitDraw(ctx, tx, hook, deliveries, next)
	}
	tx, err := s.sql.BeginTx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	defer func() { _ = tx.Rollback() }()
	hook, err := scanWebhook(tx.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM agent_webhooks WHERE agent_id = $1 FOR UPDATE SKIP LOCKED`, agentID.String()))
	if errors.Is(err, sql.ErrNoRows) {
		return nil // no webhook, or another replica is drawing it
	}
	if err != nil {
		return translate(err)
	}
	deliveries, next, err := draw(hook) // reads the feed on another connection; the lock holds meanwhile
	if err != nil {
		return err
	}
	return s.commitDraw(ctx, tx, hook, deliveries, next)
}

// commitDraw writes drawn deliveries and the webhook's new position, if
// the position is still the one they were drawn from.
func (s *Store) commitDraw(ctx context.Context, tx *sql.Tx, hook *models.Webhook, deliveries []*models.Delivery, next models.FeedPosition) error {
	if next == hook.Position {
		return nil
	}
	res, err := tx.ExecContext(ctx, s.q(`UPDATE agent_webhooks SET feed_tx = `+s.xid8("$2")+`, feed_seq = $3
		WHERE agent_id = $1 AND feed_tx = `+s.xid8("$4")+` AND feed_seq = $5`),
		hook.AgentID.String(), s.txArg(next.Tx), next.Seq, s.txArg(hook.Position.Tx), hook.Position.Seq)
	if err != nil {
		return translate(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // drawn meanwhile (or removed): nothing to add
	}
	for chunk := range slices.Chunk(deliveries, insertChunk) {
		// One multi-row INSERT per chunk: a busy agent's feed is drawn in
		// hundreds of rows at a time.
		var sb strings.Builder
		sb.WriteString(`INSERT INTO webhook_deliveries (id, agent_id, session_id, feed_tx, feed_seq, part, event_type, body, status, attempts, created_at, next_attempt_at) VALUES `)
		args := make([]any, 0, len(chunk)*9)
		for i, d := range chunk {
			n := i * 9
			p := func(k int) string { return "$" + strconv.Itoa(n+k) }
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(" + p(1) + ", " + p(2) + ", " + p(3) + ", " + s.xid8(p(4)) + ", " + p(5) + ", " + p(6) + ", " + p(7) + ", " + p(8) +
				", 'pending', 0, " + p(9) + ", " + p(9) + ")")
			args = append(args, d.ID.String(), d.AgentID.String(), d.SessionID.String(), s.txArg(d.Position.Tx), d.Position.Seq, d.Position.Done,
				string(d.Type), d.Body, s.timeArg(d.CreatedAt))
		}
		if _, err := tx.ExecContext(ctx, s.q(sb.String()), args...); err != nil {
			return translate(err)
		}
	}
	if err := s.headSessions(ctx, tx, deliveries); err != nil {
		return err
	}
	return translate(tx.Commit())
}

// ListDeliveries returns up to limit of an agent's deliveries, newest
// first, older than before (nil: from the newest).
func (s *Store) ListDeliveries(ctx context.Context, agentID uuid.UUID, before *uuid.UUID, limit int) ([]*models.Delivery, error) {
	query := `SELECT id, agent_id, session_id, CAST(feed_tx AS text), feed_seq, part, event_type, body, status, attempts, last_error,
		created_at, next_attempt_at, delivered_at FROM webhook_deliveries WHERE agent_id = $1`
	args := []any{agentID.String(), limit}
	if before != nil {
		query += ` AND id < $3`
		args = append(args, before.String())
	}
	rows, err := s.sql.QueryContext(ctx, s.q(query+` ORDER BY id DESC LIMIT $2`), args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []*models.Delivery
	for rows.Next() {
		d := &models.Delivery{}
		var id, agent, session, tx, typ, status string
		var lastError sql.NullString
		var created, next, delivered any
		if err := rows.Scan(&id, &agent, &session, &tx, &d.Position.Seq, &d.Position.Done, &typ, &d.Body, &status, &d.Attempts,
			&lastError, &created, &next, &delivered); err != nil {
			return nil, translate(err)
		}
		d.ID, _ = uuid.Parse(id)
		d.AgentID, _ = uuid.Parse(agent)
		d.SessionID, _ = uuid.Parse(session)
		d.Position.Tx, _ = strconv.ParseUint(tx, 10, 64)
		d.Type, d.Status, d.LastError = models.WebhookEventType(typ), models.DeliveryStatus(status), lastError.String
		if d.CreatedAt, err = dbTime(created); err != nil {
			return nil, err
		}
		if d.NextAttemptAt, err = dbTime(next); err != nil {
			return nil, err
		}
		if delivered != nil {
			at, err := dbTime(delivered)
			if err != nil {
				return nil, err
			}
			d.DeliveredAt = &at
		}
		out = append(out, d)
	}
	return out, translate(rows.Err())
}

// RenameAgent changes an agent's name. Errors: models.ErrNotFound.
func (s *Store) RenameAgent(ctx context.Context, id uuid.UUID, name string) error {
	res := s.db.WithContext(ctx).Model(&models.Agent{}).Where("id = ?", id).Update("name", name)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return models.ErrNotFound
	}
	return nil
}
