-- +goose Up
ALTER TABLE sessions ADD COLUMN near_expiry_notified_for datetime;
ALTER TABLE sessions ADD COLUMN expiry_notified boolean NOT NULL DEFAULT false;

CREATE INDEX sessions_expiry_pending_idx ON sessions (expires_at) WHERE NOT expiry_notified;

-- +goose Down
DROP INDEX sessions_expiry_pending_idx;
ALTER TABLE sessions DROP COLUMN expiry_notified;
ALTER TABLE sessions DROP COLUMN near_expiry_notified_for;
