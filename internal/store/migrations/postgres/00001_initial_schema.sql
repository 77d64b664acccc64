-- +goose Up
CREATE TABLE agents (
    id                                uuid        PRIMARY KEY,
    name                              text        NOT NULL,
    created_at                        timestamptz NOT NULL,
    default_timeout_minutes           integer,
    default_auto_renew                boolean,
    default_max_duration_minutes      integer,
    default_warning_threshold_minutes integer
);

-- fillfactor leaves room on each page so the per-send UPDATE of
-- last_activity/expires_at/renewal_count can stay a HOT update.
CREATE TABLE sessions (
    id                        uuid        PRIMARY KEY,
    agent_id                  uuid        NOT NULL REFERENCES agents (id),
    user_id                   uuid        NOT NULL,
    metadata                  jsonb       NOT NULL DEFAULT '{}',
    created_at                timestamptz NOT NULL,
    last_activity             timestamptz NOT NULL,
    expires_at                timestamptz NOT NULL,
    renewal_count             integer     NOT NULL DEFAULT 0,
    timeout_minutes           integer     NOT NULL,
    auto_renew                boolean     NOT NULL,
    max_duration_minutes      integer     NOT NULL,
    warning_threshold_minutes integer     NOT NULL
) WITH (fillfactor = 80);

CREATE INDEX sessions_agent_id_idx ON sessions (agent_id);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
-- The retention sweep finds sessions by expiry.
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE messages (
    id          uuid        PRIMARY KEY,
    session_id  uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    author_id   uuid        NOT NULL,
    is_agent    boolean     NOT NULL,
    content     text        NOT NULL,
    metadata    jsonb       NOT NULL DEFAULT '{}',
    attachments jsonb       NOT NULL DEFAULT '[]',
    created_at  timestamptz NOT NULL
);

-- History is read newest-first by keyset on (created_at, id) within a session.
CREATE INDEX messages_session_created_id_idx ON messages (session_id, created_at, id);

-- +goose Down
DROP TABLE messages;
DROP TABLE sessions;
DROP TABLE agents;
