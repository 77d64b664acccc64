-- +goose Up
CREATE TABLE persisted_queries (
    hash          text     PRIMARY KEY,
    query         text     NOT NULL,
    registered_at datetime NOT NULL
);

CREATE INDEX persisted_queries_registered_at_idx ON persisted_queries (registered_at);

-- +goose Down
DROP TABLE persisted_queries;
