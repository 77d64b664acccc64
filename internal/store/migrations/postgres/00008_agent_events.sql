-- +goose Up
-- The agent feed (SPEC §8): every change of every session of an agent, one
-- row each, written by triggers in the same transaction as the change, so
-- that no path (group commit, claims, retention, an operator's SQL) can
-- change a session without its agent hearing of it.
--
-- seq orders rows of one transaction; tx (the writing transaction's id)
-- makes the feed gap-free: a reader takes only rows of transactions older
-- than its snapshot's xmin (all finished), in (tx, seq) order, so a row whose
-- transaction commits late can never land behind a cursor already handed out.
CREATE TABLE agent_events (
    seq         bigserial   PRIMARY KEY,
    tx          xid8        NOT NULL DEFAULT pg_current_xact_id(),
    agent_id    uuid        NOT NULL,
    session_id  uuid        NOT NULL,
    -- created, message, renewed, reconfigured, near_expiration, expired, deleted
    kind        text        NOT NULL,
    message_id  uuid,
    occurred_at timestamptz NOT NULL,
    -- The session as the change left it (as it was, for deleted); NULL for
    -- messages, which carry their own sessionStatus.
    session     jsonb
);
CREATE INDEX agent_events_feed_idx ON agent_events (agent_id, tx, seq);

-- +goose StatementBegin
CREATE FUNCTION agent_feed_session(s sessions) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('id', s.id, 'agentId', s.agent_id, 'userId', s.user_id, 'metadata', s.metadata,
        'createdAt', s.created_at, 'lastActivity', s.last_activity, 'expiresAt', s.expires_at,
        'renewalCount', s.renewal_count, 'timeoutMinutes', s.timeout_minutes, 'autoRenew', s.auto_renew,
        'maxDurationMinutes', s.max_duration_minutes, 'warningThresholdMinutes', s.warning_threshold_minutes)
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION agent_feed_session_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agent_events (agent_id, session_id, kind, occurred_at, session)
    SELECT c.agent_id, c.id, 'created', c.created_at, agent_feed_session(c) FROM created c ORDER BY c.created_at, c.id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER sessions_feed_created AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS created FOR EACH STATEMENT EXECUTE FUNCTION agent_feed_session_created();

-- One statement-level trigger per insert statement: a group commit of many
-- sends adds its feed rows in one INSERT … SELECT.
-- +goose StatementBegin
CREATE FUNCTION agent_feed_message_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agent_events (agent_id, session_id, kind, message_id, occurred_at)
    SELECT s.agent_id, a.session_id, 'message', a.id, a.created_at
    FROM added a JOIN sessions s ON s.id = a.session_id ORDER BY a.created_at, a.id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER messages_feed_added AFTER INSERT ON messages
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION agent_feed_message_added();

-- A session update is an event when it announced a lifetime crossing, or
-- moved the lifetime without a message (a message's row tells its renewal).
-- +goose StatementBegin
CREATE FUNCTION agent_feed_session_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.expiry_notified AND NOT OLD.expiry_notified THEN
        INSERT INTO agent_events (agent_id, session_id, kind, occurred_at, session)
        VALUES (NEW.agent_id, NEW.id, 'expired', statement_timestamp(), agent_feed_session(NEW));
    END IF;
    IF NEW.near_expiry_notified_for IS NOT NULL AND NEW.near_expiry_notified_for IS DISTINCT FROM OLD.near_expiry_notified_for THEN
        INSERT INTO agent_events (agent_id, session_id, kind, occurred_at, session)
        VALUES (NEW.agent_id, NEW.id, 'near_expiration', statement_timestamp(), agent_feed_session(NEW));
    END IF;
    IF NEW.last_message_at IS NOT DISTINCT FROM OLD.last_message_at AND
       (NEW.expires_at, NEW.renewal_count, NEW.timeout_minutes, NEW.auto_renew, NEW.max_duration_minutes, NEW.warning_threshold_minutes)
       IS DISTINCT FROM
       (OLD.expires_at, OLD.renewal_count, OLD.timeout_minutes, OLD.auto_renew, OLD.max_duration_minutes, OLD.warning_threshold_minutes) THEN
        INSERT INTO agent_events (agent_id, session_id, kind, occurred_at, session)
        VALUES (NEW.agent_id, NEW.id,
            CASE WHEN NEW.renewal_count > OLD.renewal_count OR NEW.last_activity > OLD.last_activity THEN 'renewed' ELSE 'reconfigured' END,
            CASE WHEN NEW.last_activity > OLD.last_activity THEN NEW.last_activity ELSE statement_timestamp() END,
            agent_feed_session(NEW));
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- The WHEN clause keeps sends (which move last_message_at and set no
-- notice) from calling the function at all.
CREATE TRIGGER sessions_feed_changed AFTER UPDATE ON sessions FOR EACH ROW
    WHEN ((NEW.expiry_notified AND NOT OLD.expiry_notified)
       OR (NEW.near_expiry_notified_for IS NOT NULL AND NEW.near_expiry_notified_for IS DISTINCT FROM OLD.near_expiry_notified_for)
       OR (NEW.last_message_at IS NOT DISTINCT FROM OLD.last_message_at AND
           (NEW.expires_at, NEW.renewal_count, NEW.timeout_minutes, NEW.auto_renew, NEW.max_duration_minutes, NEW.warning_threshold_minutes)
           IS DISTINCT FROM
           (OLD.expires_at, OLD.renewal_count, OLD.timeout_minutes, OLD.auto_renew, OLD.max_duration_minutes, OLD.warning_threshold_minutes)))
    EXECUTE FUNCTION agent_feed_session_changed();

-- +goose StatementBegin
CREATE FUNCTION agent_feed_session_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agent_events (agent_id, session_id, kind, occurred_at, session)
    VALUES (OLD.agent_id, OLD.id, 'deleted', statement_timestamp(), agent_feed_session(OLD));
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER sessions_feed_deleted AFTER DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION agent_feed_session_deleted();

-- +goose Down
DROP TRIGGER sessions_feed_deleted ON sessions;
DROP TRIGGER sessions_feed_changed ON sessions;
DROP TRIGGER messages_feed_added ON messages;
DROP TRIGGER sessions_feed_created ON sessions;
DROP FUNCTION agent_feed_session_deleted();
DROP FUNCTION agent_feed_session_changed();
DROP FUNCTION agent_feed_message_added();
DROP FUNCTION agent_feed_session_created();
DROP FUNCTION agent_feed_session(sessions);
DROP TABLE agent_events;
