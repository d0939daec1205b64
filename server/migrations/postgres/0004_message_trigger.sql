-- What a new message changes besides its own row, done by the database in the same
-- statement: the channel's last message and activity (main-thread messages), the
-- sender's read position, and the channel unhidden for whoever had hidden it.
CREATE FUNCTION messages_after_insert() RETURNS trigger AS $$
BEGIN
    IF NEW.parent_id IS NULL AND NEW.thread_id IS NULL THEN
        UPDATE channels SET last_message_id = NEW.id, last_activity_ms = NEW.created_ms
            WHERE id = NEW.channel_id;
    END IF;
    IF NEW.user_id IS NOT NULL THEN
        UPDATE channel_members SET last_read_message_id = NEW.id, last_read_ms = NEW.created_ms
            WHERE channel_id = NEW.channel_id AND user_id = NEW.user_id;
    END IF;
    UPDATE channel_members SET hidden = 0 WHERE channel_id = NEW.channel_id AND hidden = 1;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER messages_after_insert AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_after_insert();
