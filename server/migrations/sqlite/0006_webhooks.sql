-- Webhooks (docs/protocol.md §15.1): the operator's endpoints, the outbox of events to
-- deliver to each, and the recent delivery attempts.
--
-- Events are written by the triggers below, inside the statement that makes the change,
-- so an event commits or rolls back with its change whatever code path made it, and a
-- crash can never keep one without the other. Each trigger writes one outbox row per
-- enabled endpoint of the application that asked for the event type (none when the
-- application has no endpoint: the send path pays one index probe). The row holds
-- what the event is about (ids; a snapshot of what a delete removes); the delivery
-- worker renders the payload when it first sends it and keeps it for retries.

CREATE TABLE webhook_endpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id INTEGER NOT NULL REFERENCES applications(id),
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- ',message.created,channel.created,' (the types it wants, each between commas),
    -- or '*' for every type.
    event_types TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    secret TEXT NOT NULL,
    -- After a rotation the previous secret signs too, until previous_until_ms.
    previous_secret TEXT,
    previous_until_ms INTEGER,
    -- The endpoint of --webhook-url, kept in step with the flags at start-up.
    is_default INTEGER NOT NULL DEFAULT 0,
    -- Since when every attempt has failed (NULL after a success).
    failing_since_ms INTEGER,
    last_success_ms INTEGER,
    created_ms INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_app ON webhook_endpoints (app_id);
-- One default endpoint per application, however many nodes start together.
CREATE UNIQUE INDEX webhook_endpoints_default ON webhook_endpoints (app_id) WHERE is_default = 1;

CREATE TABLE webhook_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    app_id INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    subject_id INTEGER,
    data TEXT,
    created_ms INTEGER NOT NULL,
    -- 0 pending, 1 delivered, 2 failed (every attempt of the schedule failed).
    state INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    -- The node sending it, until when (another node may take it over after that).
    claimed_by TEXT,
    claimed_until INTEGER,
    payload TEXT,
    finished_ms INTEGER
);
CREATE INDEX webhook_outbox_pending ON webhook_outbox (endpoint_id, next_attempt_ms) WHERE state = 0;
CREATE INDEX webhook_outbox_endpoint ON webhook_outbox (endpoint_id, id);

CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    outbox_id INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    -- The HTTP status answered; NULL when there was no answer.
    status INTEGER,
    error TEXT,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);

CREATE TRIGGER webhook_message_created AFTER INSERT ON messages
BEGIN
    INSERT INTO webhook_outbox (endpoint_id, app_id, event_type, subject_id, data, created_ms, next_attempt_ms)
    SELECT e.id, e.app_id, 'message.created', NEW.id, NULL, NEW.created_ms, NEW.created_ms
    FROM channels c JOIN webhook_endpoints e ON e.app_id = c.app_id
    WHERE c.id = NEW.channel_id AND e.enabled = 1
        AND (e.event_types = '*' OR e.event_types LIKE '%,message.created,%');
END;

CREATE TRIGGER webhook_message_updated AFTER UPDATE OF edited_ms ON messages
WHEN NEW.deleted_ms IS NULL AND NEW.edited_ms IS NOT OLD.edited_ms
BEGIN
    INSERT INTO webhook_outbox (endpoint_id, app_id, event_type, subject_id, data, created_ms, next_attempt_ms)
    SELECT e.id, e.app_id, 'message.updated', NEW.id, NULL, NEW.edited_ms, NEW.edited_ms
    FROM channels c JOIN webhook_endpoints e ON e.app_id = c.app_id
    WHERE c.id = NEW.channel_id AND e.enabled = 1
        AND (e.event_types = '*' OR e.event_types LIKE '%,message.updated,%');
END;

CREATE TRIGGER webhook_message_deleted AFTER UPDATE OF deleted_ms ON messages
WHEN OLD.deleted_ms IS NULL AND NEW.deleted_ms IS NOT NULL
BEGIN
    INSERT INTO webhook_outbox (endpoint_id, app_id, event_type, subject_id, data, created_ms, next_attempt_ms)
    SELECT e.id, e.app_id, 'message.deleted', NEW.id, NULL, NEW.deleted_ms, NEW.deleted_ms
    FROM channels c JOIN webhook_endpoints e ON e.app_id = c.app_id
    WHERE c.id = NEW.channel_id AND e.enabled = 1
        AND (e.event_types = '*' OR e.event_types LIKE '%,message.deleted,%');
END;

CREATE TRIGGER webhook_reaction_added AFTER INSERT ON reactions
BEGIN
    INSERT INTO webhook_outbox (endpoint_id, app_id, event_type, subject_id, data, created_ms, next_attempt_ms)
    SELECT e.id, e.app_id, 'reaction.added', NEW.message_id,
        json_object('messageId', NEW.message_id, 'userId', NEW.user_id, 'emoji', NEW.emoji),
        NEW.created_ms, NEW.created_ms
    FROM messages m JOIN channels c ON c.id = m.channel_id JOIN webhook_endpoints e ON e.app_id = c.app_id
    WHERE m.id = NEW.message_id AND e.enabled = 1
        AND (e.event_types = '*' OR e.event_types LIKE '%,reaction.added,%');
END;

-- Not for the reactions a deleted message (or channel) takes with it.
CREATE TRIGGER webhook_reaction_removed AFTER DELETE ON reactions
BEGIN
    INSERT INTO webhook_outbox (endpoint_id, app_id, event_type, subject_id, data, created_ms, next_attempt_ms)
    SELECT e.id, e.app_id, 'reaction.removed', OLD.message_id,
        json_object('messageId', OLD.message_id, 'userId', OLD.user_id, 'emoji', OLD.emoji),
        CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER),
        CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)
    FROM messages m JOIN channels c ON c.id = m.channel_id JOIN webhook_endpoints e ON e.app_id = c.app_id
    WHERE m.id = OLD.message_id AND m.deleted_ms IS NULL AND e.enabled = 1
        AND (e.event_types = '*' OR e.event_types LIKE '%,reaction.removed,%');
END;

CREATE TRIGGER webhook_channel_created AFTER INSERT ON channels
BEGIN
    INSERT INTO webhook_outbox (endpoint_id, app_id, event_type, subject_id, data, created_ms, next_attempt_ms)
    SELECT e.id, e.app_id, 'channel.created', NEW.id, NULL, NEW.created_ms, NEW.created_ms
    FROM webhook_endpoints e
    WHERE e.app_id = NEW.app_id AND e.enabled = 1
        AND (e.event_types = '*' OR e.event_types LIKE '%,channel.created,%');
END;

CREATE TRIGGER webhook_channel_updated AFTER UPDATE OF name, display_name, properties ON channels
WHEN NEW.name IS NOT OLD.name OR NEW.display_name IS NOT OLD.display_name
    OR NEW.properties IS NOT OLD.properties
BEGIN
    INSERT INTO webhook_outbox (endpoint_id, app_id, event_type, subject_id, data, created_ms, next_attempt_ms)
    SELECT e.id, e.app_id, 'channel.updated', NEW.id, NULL,
        CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER),
        CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)
    FROM webhook_endpoints e
    WHERE e.app_id = NEW.app_id AND e.enabled = 1
        AND (e.event_types = '*' OR e.event_types LIKE '%,channel.updated,%');
END;

CREATE TRIGGER webhook_channel_deleted AFTER DELETE ON channels
BEGIN
    INSERT INTO webhook_outbox (endpoint_id, app_id, event_type, subject_id, data, created_ms, next_attempt_ms)
    SELECT e.id, e.app_id, 'channel.deleted', OLD.id,
        json_object('id', OLD.id, 'type', OLD.kind, 'name', OLD.name,
            'displayName', OLD.display_name, 'properties', json(OLD.properties)),
        CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER),
        CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)
    FROM webhook_endpoints e
    WHERE e.app_id = OLD.app_id AND e.enabled = 1
        AND (e.event_types = '*' OR e.event_types LIKE '%,channel.deleted,%');
END;

CREATE TRIGGER webhook_member_added AFTER INSERT ON channel_members
BEGIN
    INSERT INTO webhook_outbox (endpoint_id, app_id, event_type, subject_id, data, created_ms, next_attempt_ms)
    SELECT e.id, e.app_id, 'member.added', NEW.channel_id,
        json_object('channelId', NEW.channel_id, 'userId', NEW.user_id, 'role', NEW.role),
        NEW.joined_ms, NEW.joined_ms
    FROM channels c JOIN webhook_endpoints e ON e.app_id = c.app_id
    WHERE c.id = NEW.channel_id AND e.enabled = 1
        AND (e.event_types = '*' OR e.event_types LIKE '%,member.added,%');
END;

-- Not for the members a deleted channel takes with it (the channel row goes first).
CREATE TRIGGER webhook_member_removed AFTER DELETE ON channel_members
BEGIN
    INSERT INTO webhook_outbox (endpoint_id, app_id, event_type, subject_id, data, created_ms, next_attempt_ms)
    SELECT e.id, e.app_id, 'member.removed', OLD.channel_id,
        json_object('channelId', OLD.channel_id, 'userId', OLD.user_id, 'role', OLD.role),
        CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER),
        CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)
    FROM channels c JOIN webhook_endpoints e ON e.app_id = c.app_id
    WHERE c.id = OLD.channel_id AND e.enabled = 1
        AND (e.event_types = '*' OR e.event_types LIKE '%,member.removed,%');
END;

CREATE TRIGGER webhook_user_created AFTER INSERT ON users
BEGIN
    INSERT INTO webhook_outbox (endpoint_id, app_id, event_type, subject_id, data, created_ms, next_attempt_ms)
    SELECT e.id, e.app_id, 'user.created', NEW.id, NULL, NEW.created_ms, NEW.created_ms
    FROM webhook_endpoints e
    WHERE e.app_id = NEW.app_id AND e.enabled = 1
        AND (e.event_types = '*' OR e.event_types LIKE '%,user.created,%');
END;

CREATE TRIGGER webhook_user_updated
AFTER UPDATE OF display_name, display_picture_url, properties, presence_status ON users
WHEN NEW.display_name IS NOT OLD.display_name
    OR NEW.display_picture_url IS NOT OLD.display_picture_url
    OR NEW.properties IS NOT OLD.properties OR NEW.presence_status IS NOT OLD.presence_status
BEGIN
    INSERT INTO webhook_outbox (endpoint_id, app_id, event_type, subject_id, data, created_ms, next_attempt_ms)
    SELECT e.id, e.app_id, 'user.updated', NEW.id, NULL,
        CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER),
        CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)
    FROM webhook_endpoints e
    WHERE e.app_id = NEW.app_id AND e.enabled = 1
        AND (e.event_types = '*' OR e.event_types LIKE '%,user.updated,%');
END;
