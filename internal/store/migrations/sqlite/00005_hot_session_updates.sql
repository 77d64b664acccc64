-- +goose Up
-- PostgreSQL's 00005 trades the expires_at indexes for these, to keep sends
-- HOT updates; SQLite has no HOT updates, so it only gains the index the
-- retention sweep now searches by.
CREATE INDEX sessions_created_at_idx ON sessions (created_at);

-- +goose Down
DROP INDEX sessions_created_at_idx;
