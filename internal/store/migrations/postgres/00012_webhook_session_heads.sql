-- +goose Up
-- Each session's oldest pending webhook delivery, the only one of the
-- session a lease may take (deliveries of a session go in order). Leases
-- read due heads here instead of walking every due delivery and asking
-- whether an older one of its session is pending: with a slow receiver
-- nearly all wait behind their session's leased one, and that walk cost a
-- lease half a second at 100,000 pending deliveries. One row per session
-- with pending deliveries; next_attempt_at mirrors the head delivery's. The
-- draw, the end of an attempt and the lease keep it (internal/store/heads.go).
CREATE TABLE webhook_session_heads (
    session_id      uuid        PRIMARY KEY,
    agent_id        uuid        NOT NULL,
    delivery_id     uuid        NOT NULL,
    next_attempt_at timestamptz NOT NULL
);
CREATE INDEX webhook_session_heads_due_idx ON webhook_session_heads (next_attempt_at);

INSERT INTO webhook_session_heads (session_id, agent_id, delivery_id, next_attempt_at)
SELECT DISTINCT ON (session_id) session_id, agent_id, id, next_attempt_at
FROM webhook_deliveries WHERE status = 'pending'
ORDER BY session_id, feed_tx, feed_seq, part;

-- +goose Down
DROP TABLE webhook_session_heads;
