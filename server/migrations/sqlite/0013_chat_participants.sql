-- Who has a chat session open in which channel, kept across restarts so a restart does
-- not announce every participant entering their chat again (docs/protocol.md §13.4,
-- "Restarts").
CREATE TABLE chat_participants (
    channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (channel_id, user_id)
);
