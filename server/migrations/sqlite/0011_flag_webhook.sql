-- A flag goes with its message: a channel's deletion, the retention purge or a user's
-- deletion removes flagged messages too (migration 10 made them block it).
CREATE TABLE message_flags_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id INTEGER NOT NULL REFERENCES applications(id),
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    reporter_id INTEGER NOT NULL REFERENCES users(id),
    reason TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'OPEN',
    created_ms INTEGER NOT NULL,
    resolved_ms INTEGER,
    UNIQUE (message_id, reporter_id)
);
INSERT INTO message_flags_new (id, app_id, message_id, reporter_id, reason, status, created_ms, resolved_ms)
    SELECT id, app_id, message_id, reporter_id, reason, status, created_ms, resolved_ms FROM message_flags;
DROP TABLE message_flags;
ALTER TABLE message_flags_new RENAME TO message_flags;
CREATE INDEX message_flags_queue ON message_flags (app_id, status, id);

-- A flag queues `message.flagged` for the application's webhook endpoints in the
-- statement that stores it (docs/protocol.md §15.1), like the row changes of
-- migration 6: a crash between the flag and its event loses neither.
CREATE TRIGGER webhook_message_flagged AFTER INSERT ON message_flags
BEGIN
    INSERT INTO webhook_outbox (endpoint_id, app_id, event_type, subject_id, data, created_ms, next_attempt_ms)
    SELECT e.id, e.app_id, 'message.flagged', NEW.message_id,
        json_object('userId', NEW.reporter_id, 'reason', NEW.reason, 'flagId', NEW.id),
        NEW.created_ms, NEW.created_ms
    FROM webhook_endpoints e
    WHERE e.app_id = NEW.app_id AND e.enabled = 1
        AND (e.event_types = '*' OR e.event_types LIKE '%,message.flagged,%');
END;
