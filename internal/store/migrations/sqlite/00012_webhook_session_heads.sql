-- +goose Up
-- See the PostgreSQL migration of the same number.
CREATE TABLE webhook_session_heads (
    session_id      text PRIMARY KEY,
    agent_id        text NOT NULL,
    delivery_id     text NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_session_heads_due_idx ON webhook_session_heads (next_attempt_at);

INSERT INTO webhook_session_heads (session_id, agent_id, delivery_id, next_attempt_at)
SELECT d.session_id, d.agent_id, d.id, d.next_attempt_at FROM webhook_deliveries d
WHERE d.status = 'pending' AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
    WHERE e.session_id = d.session_id AND e.status = 'pending'
      AND (e.feed_tx, e.feed_seq, e.part) < (d.feed_tx, d.feed_seq, d.part));

-- +goose Down
DROP TABLE webhook_session_heads;
