-- +goose Up
-- Which lifetime events were already published, so that with any number of
-- replicas each threshold crossing is announced exactly once, across restarts.
-- near_expiry_notified_for holds the expires_at that was warned about: a
-- renewal moves expires_at and so re-arms the warning.
ALTER TABLE sessions ADD COLUMN near_expiry_notified_for timestamptz;
ALTER TABLE sessions ADD COLUMN expiry_notified boolean NOT NULL DEFAULT false;

-- Expired sessions not yet announced: a small index however many are kept.
CREATE INDEX sessions_expiry_pending_idx ON sessions (expires_at) WHERE NOT expiry_notified;

-- +goose Down
DROP INDEX sessions_expiry_pending_idx;
ALTER TABLE sessions DROP COLUMN expiry_notified;
ALTER TABLE sessions DROP COLUMN near_expiry_notified_for;
