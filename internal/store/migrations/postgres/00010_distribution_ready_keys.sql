-- +goose Up
-- Keys ready for a distributed PostgreSQL (Citus) with session_id as the
-- distribution column (docs/scaling.md): a distributed table's primary key
-- must contain that column. The message history index (session_id,
-- created_at, id) becomes the primary key, and id keeps its own unique
-- index for look-ups by id alone (Query.node, a send's settling) — two
-- indexes per message, as before, so a send writes no more than it did.
-- When the table is distributed, messages_id_key has to become a plain
-- index (a unique index without session_id is refused there); message ids
-- are UUID v7 made by sessionhub, so nothing depends on the database
-- enforcing their uniqueness alone.
CREATE UNIQUE INDEX messages_session_created_id_key ON messages (session_id, created_at, id);
CREATE UNIQUE INDEX messages_id_key ON messages (id);
ALTER TABLE messages DROP CONSTRAINT messages_pkey;
ALTER TABLE messages ADD CONSTRAINT messages_pkey PRIMARY KEY USING INDEX messages_session_created_id_key;
DROP INDEX messages_session_created_id_idx;

-- +goose Down
CREATE INDEX messages_session_created_id_idx ON messages (session_id, created_at, id);
ALTER TABLE messages DROP CONSTRAINT messages_pkey;
DROP INDEX messages_id_key;
ALTER TABLE messages ADD CONSTRAINT messages_pkey PRIMARY KEY (id);
