-- +goose Up
-- See the PostgreSQL migration of the same number (feed_tx is always 0 here).
CREATE TABLE agent_webhooks (
    agent_id    text     PRIMARY KEY REFERENCES agents (id),
    url         text     NOT NULL,
    secret      text     NOT NULL,
    events      text     NOT NULL DEFAULT '',
    feed_tx     integer  NOT NULL,
    feed_seq    integer  NOT NULL,
    created_at  datetime NOT NULL,
    updated_at  datetime NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              text     PRIMARY KEY,
    agent_id        text     NOT NULL,
    session_id      text     NOT NULL,
    feed_tx         integer  NOT NULL,
    feed_seq        integer  NOT NULL,
    part            integer  NOT NULL,
    event_type      text     NOT NULL,
    body            text     NOT NULL,
    status          text     NOT NULL,
    attempts        integer  NOT NULL DEFAULT 0,
    last_error      text,
    created_at      datetime NOT NULL,
    next_attempt_at datetime NOT NULL,
    delivered_at    datetime
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_session_idx ON webhook_deliveries (session_id, feed_tx, feed_seq, part) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_agent_idx ON webhook_deliveries (agent_id, id);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE agent_webhooks;
