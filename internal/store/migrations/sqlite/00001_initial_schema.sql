-- +goose Up
-- Ids are canonical lower-case UUID text; times are UTC, stored by the driver
-- as datetime text; JSON columns hold compact JSON text.
CREATE TABLE agents (
    id                                text     PRIMARY KEY,
    name                              text     NOT NULL,
    created_at                        datetime NOT NULL,
    default_timeout_minutes           integer,
    default_auto_renew                boolean,
    default_max_duration_minutes      integer,
    default_warning_threshold_minutes integer
);

CREATE TABLE sessions (
    id                        text     PRIMARY KEY,
    agent_id                  text     NOT NULL REFERENCES agents (id),
    user_id                   text     NOT NULL,
    metadata                  text     NOT NULL DEFAULT '{}',
    created_at                datetime NOT NULL,
    last_activity             datetime NOT NULL,
    expires_at                datetime NOT NULL,
    renewal_count             integer  NOT NULL DEFAULT 0,
    timeout_minutes           integer  NOT NULL,
    auto_renew                boolean  NOT NULL,
    max_duration_minutes      integer  NOT NULL,
    warning_threshold_minutes integer  NOT NULL
);

CREATE INDEX sessions_agent_id_idx ON sessions (agent_id);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE messages (
    id          text     PRIMARY KEY,
    session_id  text     NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    author_id   text     NOT NULL,
    is_agent    boolean  NOT NULL,
    content     text     NOT NULL,
    metadata    text     NOT NULL DEFAULT '{}',
    attachments text     NOT NULL DEFAULT '[]',
    created_at  datetime NOT NULL
);

CREATE INDEX messages_session_created_id_idx ON messages (session_id, created_at, id);

-- +goose Down
DROP TABLE messages;
DROP TABLE sessions;
DROP TABLE agents;
