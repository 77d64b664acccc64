-- +goose Up
-- Every send rewrites expires_at. While an index covers that column, each
-- send is a non-HOT update: a new entry in every index of sessions. Without
-- one (and with fillfactor 80) the update stays on its page and touches no
-- index. Expiry queries find their rows by created_at instead — a session
-- always expires after it was created — and the partial index keeps the
-- sessions whose expiry is not yet announced (the live ones) apart.
DROP INDEX sessions_expires_at_idx;
DROP INDEX sessions_expiry_pending_idx;
CREATE INDEX sessions_created_at_idx ON sessions (created_at);
CREATE INDEX sessions_unannounced_idx ON sessions (created_at) WHERE NOT expiry_notified;

-- +goose Down
DROP INDEX sessions_unannounced_idx;
DROP INDEX sessions_created_at_idx;
CREATE INDEX sessions_expiry_pending_idx ON sessions (expires_at) WHERE NOT expiry_notified;
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
