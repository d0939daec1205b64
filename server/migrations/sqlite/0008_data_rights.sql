-- Data rights (Platform API, docs/protocol.md §15): a retention period per application
-- (NULL: the server's --retention-days), users deleted on request (their row kept,
-- emptied, as the author of what was anonymised), and the indexes that find a user's
-- data and the messages past retention without scanning every message.
ALTER TABLE applications ADD COLUMN retention_days INTEGER;
ALTER TABLE users ADD COLUMN deleted_ms INTEGER;
CREATE INDEX messages_created ON messages (created_ms);
CREATE INDEX messages_user ON messages (user_id, id) WHERE user_id IS NOT NULL;
CREATE INDEX reactions_user ON reactions (user_id);
CREATE INDEX files_owner ON files (owner_id);
CREATE INDEX files_message ON files (message_id) WHERE message_id IS NOT NULL;
