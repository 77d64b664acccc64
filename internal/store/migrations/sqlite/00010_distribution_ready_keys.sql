-- +goose Up
-- PostgreSQL's 00010 makes the messages' primary key start with session_id,
-- as a distributed PostgreSQL (Citus) requires (docs/scaling.md). SQLite is
-- never distributed, and changing a primary key there means rebuilding the
-- table, so nothing changes; the version is kept in step with PostgreSQL's.
SELECT 1;

-- +goose Down
SELECT 1;
