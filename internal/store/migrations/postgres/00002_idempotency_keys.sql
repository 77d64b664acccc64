-- +goose Up
-- A send's Idempotency-Key, scoped to the caller, with a hash of the request
-- it first came with and what that request produced, kept for 24 hours.
CREATE TABLE idempotency_keys (
    scope          text        NOT NULL,
    key            text        NOT NULL,
    request_hash   text        NOT NULL,
    session_id     uuid        NOT NULL,
    message_id     uuid        NOT NULL,
    session_status jsonb       NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
