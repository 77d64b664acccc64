-- +goose Up
-- An agent's webhook (at most one) and how far its deliveries have been
-- drawn from the agent feed (the position after the last row materialized).
CREATE TABLE agent_webhooks (
    agent_id    uuid        PRIMARY KEY REFERENCES agents (id),
    url         text        NOT NULL,
    secret      text        NOT NULL,
    events      text        NOT NULL DEFAULT '', -- comma-separated event types; empty: all
    feed_tx     xid8        NOT NULL,
    feed_seq    bigint      NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- The outbox: one row per event to POST, drawn from the feed in the same
-- transaction that advances the webhook's position.
CREATE TABLE webhook_deliveries (
    id              uuid        PRIMARY KEY,
    agent_id        uuid        NOT NULL,
    session_id      uuid        NOT NULL,
    feed_tx         xid8        NOT NULL,
    feed_seq        bigint      NOT NULL,
    part            integer     NOT NULL,
    event_type      text        NOT NULL,
    body            text        NOT NULL,
    status          text        NOT NULL, -- pending, delivered, failed
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    created_at      timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    delivered_at    timestamptz
);
-- Workers find due deliveries, and a session's oldest pending one.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_session_idx ON webhook_deliveries (session_id, feed_tx, feed_seq, part) WHERE status = 'pending';
-- Agent.webhookDeliveries pages by id (UUID v7: creation order).
CREATE INDEX webhook_deliveries_agent_idx ON webhook_deliveries (agent_id, id);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE agent_webhooks;
