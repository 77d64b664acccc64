-- +goose Up
-- See the PostgreSQL migration of the same number (tx is always 0 here: seq
-- order is commit order, and AUTOINCREMENT never hands a removed seq out
-- again).
CREATE TABLE agent_feed_horizons (
    agent_id text    PRIMARY KEY,
    tx       integer NOT NULL,
    seq      integer NOT NULL,
    done     integer NOT NULL
);

CREATE INDEX webhook_deliveries_finished_idx ON webhook_deliveries (created_at) WHERE status <> 'pending';

-- +goose Down
DROP INDEX webhook_deliveries_finished_idx;
DROP TABLE agent_feed_horizons;
