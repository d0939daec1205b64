-- A flag goes with its message: a channel's deletion, the retention purge or a user's
-- deletion removes flagged messages too (migration 10 made them block it).
ALTER TABLE message_flags DROP CONSTRAINT message_flags_message_id_fkey;
ALTER TABLE message_flags ADD CONSTRAINT message_flags_message_id_fkey
    FOREIGN KEY (message_id) REFERENCES messages(id) ON DELETE CASCADE;

-- A flag queues `message.flagged` for the application's webhook endpoints in the
-- statement that stores it (docs/protocol.md §15.1), like the row changes of
-- migration 6: a crash between the flag and its event loses neither.
CREATE FUNCTION webhook_message_flags() RETURNS trigger AS $$
BEGIN
    PERFORM webhook_enqueue(NEW.app_id, 'message.flagged', NEW.message_id,
        json_build_object('userId', NEW.reporter_id, 'reason', NEW.reason, 'flagId', NEW.id)::TEXT,
        NEW.created_ms);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER webhook_message_flags AFTER INSERT ON message_flags
    FOR EACH ROW EXECUTE FUNCTION webhook_message_flags();
