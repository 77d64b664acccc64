-- +goose Up
-- See the PostgreSQL migration of the same number. SQLite needs no version
-- trigger: its writes read the row under the database's write lock.
ALTER TABLE sessions ADD COLUMN last_message_at datetime;
UPDATE sessions SET last_message_at = (SELECT max(created_at) FROM messages WHERE session_id = sessions.id);
ALTER TABLE messages ADD COLUMN session_status text;

-- +goose Down
ALTER TABLE messages DROP COLUMN session_status;
ALTER TABLE sessions DROP COLUMN last_message_at;
