-- +goose Up
-- The createdAt of a session's newest message: the next one is stamped at
-- least 1 ms later, so one session's messages never share a millisecond and
-- millisecond cursors are exact.
ALTER TABLE sessions ADD COLUMN last_message_at timestamptz;
UPDATE sessions s SET last_message_at = m.newest
FROM (SELECT session_id, max(created_at) AS newest FROM messages GROUP BY session_id) m
WHERE m.session_id = s.id;

-- What each send did to the session's lifetime, returned wherever the
-- message is read. NULL for messages stored before this migration.
ALTER TABLE messages ADD COLUMN session_status jsonb;

-- Every change of a session row moves its version, whoever makes it (an
-- operator's UPDATE included), so a writer holding an older copy can never
-- overwrite it unseen. sessionhub's own writes bump the version themselves
-- and skip the function.
-- +goose StatementBegin
CREATE FUNCTION sessions_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER sessions_version_moves BEFORE UPDATE ON sessions
    FOR EACH ROW WHEN (NEW.version = OLD.version) EXECUTE FUNCTION sessions_bump_version();

-- +goose Down
DROP TRIGGER sessions_version_moves ON sessions;
DROP FUNCTION sessions_bump_version();
ALTER TABLE messages DROP COLUMN session_status;
ALTER TABLE sessions DROP COLUMN last_message_at;
