-- +goose Up
-- Bumped by every write to a session, so a send can read the session, apply
-- the rules, and write back only if nobody wrote in between.
ALTER TABLE sessions ADD COLUMN version bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE sessions DROP COLUMN version;
