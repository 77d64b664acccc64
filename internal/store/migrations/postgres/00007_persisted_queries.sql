-- +goose Up
-- GraphQL automatic persisted queries, shared by every replica: the SHA-256
-- (hex) of a document and its text. Kept for 30 days after the last
-- registration and trimmed to the newest 10000 by the sweep.
CREATE TABLE persisted_queries (
    hash          text        PRIMARY KEY,
    query         text        NOT NULL,
    registered_at timestamptz NOT NULL
);

CREATE INDEX persisted_queries_registered_at_idx ON persisted_queries (registered_at);

-- +goose Down
DROP TABLE persisted_queries;
