-- +goose Up
-- Retention of the agent feed and the webhook outbox
-- (AGENT_FEED_RETENTION_HOURS). The sweep removes an agent's oldest feed rows
-- by position, never by time alone, and records here the position of the
-- last one removed, in the same transaction: a reader (agentEvents, a
-- webhook's drawing) whose position is below it has missed rows and is told
-- so, instead of silently continuing after the gap. One row per agent, so an
-- agent that was quiet for longer than the retention lost nothing and is not
-- told otherwise. done is how many events that row stood for (a message that
-- renewed is two), so a cursor between the two is told too. It only moves
-- forward: a row is removed only once its transaction has finished (tx below
-- the snapshot's xmin), so no row can later appear at or below it.
CREATE TABLE agent_feed_horizons (
    agent_id uuid    PRIMARY KEY,
    tx       xid8    NOT NULL,
    seq      bigint  NOT NULL,
    done     integer NOT NULL
);

-- The sweep takes delivered and failed deliveries by age; pending ones are
-- never removed (and stay out of this index).
CREATE INDEX webhook_deliveries_finished_idx ON webhook_deliveries (created_at) WHERE status <> 'pending';

-- +goose Down
DROP INDEX webhook_deliveries_finished_idx;
DROP TABLE agent_feed_horizons;
