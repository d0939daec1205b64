-- Who is online, kept across restarts so a restart does not announce everyone's presence
-- again (docs/protocol.md §13.4, "Restarts").
CREATE TABLE presence_online (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE
);
