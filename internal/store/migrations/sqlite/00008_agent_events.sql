-- +goose Up
-- See the PostgreSQL migration of the same number. SQLite has one writer at
-- a time, so seq order is commit order and no transaction id is needed.
-- Times are text in the driver's format; the database's own clock (for
-- changes whose row holds no time) is written in the same format.
CREATE TABLE agent_events (
    seq         integer  PRIMARY KEY AUTOINCREMENT,
    agent_id    text     NOT NULL,
    session_id  text     NOT NULL,
    kind        text     NOT NULL,
    message_id  text,
    occurred_at datetime NOT NULL,
    session     text
);
CREATE INDEX agent_events_feed_idx ON agent_events (agent_id, seq);

-- +goose StatementBegin
CREATE TRIGGER sessions_feed_created AFTER INSERT ON sessions BEGIN
    INSERT INTO agent_events (agent_id, session_id, kind, occurred_at, session)
    VALUES (NEW.agent_id, NEW.id, 'created', NEW.created_at, json_object('id', NEW.id, 'agentId', NEW.agent_id, 'userId', NEW.user_id, 'metadata', json(NEW.metadata),
        'createdAt', NEW.created_at, 'lastActivity', NEW.last_activity, 'expiresAt', NEW.expires_at,
        'renewalCount', NEW.renewal_count, 'timeoutMinutes', NEW.timeout_minutes, 'autoRenew', CASE WHEN NEW.auto_renew THEN json('true') ELSE json('false') END,
        'maxDurationMinutes', NEW.max_duration_minutes, 'warningThresholdMinutes', NEW.warning_threshold_minutes));
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER messages_feed_added AFTER INSERT ON messages BEGIN
    INSERT INTO agent_events (agent_id, session_id, kind, message_id, occurred_at)
    SELECT agent_id, NEW.session_id, 'message', NEW.id, NEW.created_at FROM sessions WHERE id = NEW.session_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER sessions_feed_expired AFTER UPDATE ON sessions
WHEN NEW.expiry_notified AND NOT OLD.expiry_notified BEGIN
    INSERT INTO agent_events (agent_id, session_id, kind, occurred_at, session)
    VALUES (NEW.agent_id, NEW.id, 'expired', strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'), json_object('id', NEW.id, 'agentId', NEW.agent_id, 'userId', NEW.user_id, 'metadata', json(NEW.metadata),
        'createdAt', NEW.created_at, 'lastActivity', NEW.last_activity, 'expiresAt', NEW.expires_at,
        'renewalCount', NEW.renewal_count, 'timeoutMinutes', NEW.timeout_minutes, 'autoRenew', CASE WHEN NEW.auto_renew THEN json('true') ELSE json('false') END,
        'maxDurationMinutes', NEW.max_duration_minutes, 'warningThresholdMinutes', NEW.warning_threshold_minutes));
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER sessions_feed_near_expiration AFTER UPDATE ON sessions
WHEN NEW.near_expiry_notified_for IS NOT NULL AND NEW.near_expiry_notified_for IS NOT OLD.near_expiry_notified_for BEGIN
    INSERT INTO agent_events (agent_id, session_id, kind, occurred_at, session)
    VALUES (NEW.agent_id, NEW.id, 'near_expiration', strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'), json_object('id', NEW.id, 'agentId', NEW.agent_id, 'userId', NEW.user_id, 'metadata', json(NEW.metadata),
        'createdAt', NEW.created_at, 'lastActivity', NEW.last_activity, 'expiresAt', NEW.expires_at,
        'renewalCount', NEW.renewal_count, 'timeoutMinutes', NEW.timeout_minutes, 'autoRenew', CASE WHEN NEW.auto_renew THEN json('true') ELSE json('false') END,
        'maxDurationMinutes', NEW.max_duration_minutes, 'warningThresholdMinutes', NEW.warning_threshold_minutes));
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER sessions_feed_changed AFTER UPDATE ON sessions
WHEN NEW.last_message_at IS OLD.last_message_at AND
    (NEW.expires_at IS NOT OLD.expires_at OR NEW.renewal_count IS NOT OLD.renewal_count OR NEW.timeout_minutes IS NOT OLD.timeout_minutes
     OR NEW.auto_renew IS NOT OLD.auto_renew OR NEW.max_duration_minutes IS NOT OLD.max_duration_minutes
     OR NEW.warning_threshold_minutes IS NOT OLD.warning_threshold_minutes) BEGIN
    INSERT INTO agent_events (agent_id, session_id, kind, occurred_at, session)
    VALUES (NEW.agent_id, NEW.id,
        CASE WHEN NEW.renewal_count > OLD.renewal_count OR NEW.last_activity > OLD.last_activity THEN 'renewed' ELSE 'reconfigured' END,
        CASE WHEN NEW.last_activity > OLD.last_activity THEN NEW.last_activity ELSE strftime('%Y-%m-%d %H:%M:%f+00:00', 'now') END,
        json_object('id', NEW.id, 'agentId', NEW.agent_id, 'userId', NEW.user_id, 'metadata', json(NEW.metadata),
        'createdAt', NEW.created_at, 'lastActivity', NEW.last_activity, 'expiresAt', NEW.expires_at,
        'renewalCount', NEW.renewal_count, 'timeoutMinutes', NEW.timeout_minutes, 'autoRenew', CASE WHEN NEW.auto_renew THEN json('true') ELSE json('false') END,
        'maxDurationMinutes', NEW.max_duration_minutes, 'warningThresholdMinutes', NEW.warning_threshold_minutes));
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER sessions_feed_deleted AFTER DELETE ON sessions BEGIN
    INSERT INTO agent_events (agent_id, session_id, kind, occurred_at, session)
    VALUES (OLD.agent_id, OLD.id, 'deleted', strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'), json_object('id', OLD.id, 'agentId', OLD.agent_id, 'userId', OLD.user_id, 'metadata', json(OLD.metadata),
        'createdAt', OLD.created_at, 'lastActivity', OLD.last_activity, 'expiresAt', OLD.expires_at,
        'renewalCount', OLD.renewal_count, 'timeoutMinutes', OLD.timeout_minutes, 'autoRenew', CASE WHEN OLD.auto_renew THEN json('true') ELSE json('false') END,
        'maxDurationMinutes', OLD.max_duration_minutes, 'warningThresholdMinutes', OLD.warning_threshold_minutes));
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER sessions_feed_deleted;
DROP TRIGGER sessions_feed_changed;
DROP TRIGGER sessions_feed_near_expiration;
DROP TRIGGER sessions_feed_expired;
DROP TRIGGER messages_feed_added;
DROP TRIGGER sessions_feed_created;
DROP TABLE agent_events;
