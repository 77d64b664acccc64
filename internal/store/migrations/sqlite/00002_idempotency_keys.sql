-- +goose Up
CREATE TABLE idempotency_keys (
    scope          text     NOT NULL,
    key            text     NOT NULL,
    request_hash   text     NOT NULL,
    session_id     text     NOT NULL,
    message_id     text     NOT NULL,
    session_status text     NOT NULL DEFAULT '{}',
    created_at     datetime NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
