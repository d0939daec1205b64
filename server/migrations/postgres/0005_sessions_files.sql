-- Session ids carry the generation they were issued in; revoking a user's sessions
-- moves it on, and earlier ids stop resuming.
ALTER TABLE users ADD COLUMN session_generation BIGINT NOT NULL DEFAULT 0;

-- The file message a hosted file was sent in: once that message is deleted the file
-- is no longer served.
ALTER TABLE files ADD COLUMN message_id BIGINT;

-- Files sent before this column existed: found by their token (24 characters) in the
-- path their message stores.
UPDATE files SET message_id = m.id
FROM (
    SELECT id, substr(file, strpos(file, '/files/v1/hosted/') + 17, 24) AS token
    FROM messages
    WHERE file IS NOT NULL AND strpos(file, '/files/v1/hosted/') > 0
) AS m
WHERE files.token = m.token;
