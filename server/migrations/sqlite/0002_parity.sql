-- When a member last read the channel: read receipts are derived from read positions
-- (a member has read message M when last_read_message_id >= M), timed by this.
ALTER TABLE channel_members ADD COLUMN last_read_ms INTEGER NOT NULL DEFAULT 0;

-- A user blocks another: the blocked user's messages do not reach the blocker, and a
-- direct channel between them refuses new messages.
CREATE TABLE user_blocks (
    user_id INTEGER NOT NULL REFERENCES users(id),
    blocked_id INTEGER NOT NULL REFERENCES users(id),
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
);
CREATE INDEX user_blocks_blocked ON user_blocks (blocked_id);

-- deleteMessageForMe: messages hidden for one user only.
CREATE TABLE hidden_messages (
    user_id INTEGER NOT NULL REFERENCES users(id),
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, message_id)
);

CREATE TABLE reactions (
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id),
    emoji TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);

-- Threads: STANDALONE threads made with createThread. A channel's main thread and a
-- message's reply thread are implicit (ids "main-<channel>" and "message-<message>").
CREATE TABLE threads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    properties TEXT NOT NULL DEFAULT '{}',
    creator_id INTEGER REFERENCES users(id),
    created_ms INTEGER NOT NULL
);
CREATE INDEX threads_channel ON threads (channel_id);

CREATE TABLE thread_reads (
    thread_key TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id),
    last_read_message_id INTEGER NOT NULL,
    PRIMARY KEY (thread_key, user_id)
);

-- Uploaded files, stored on disk under the files directory.
CREATE TABLE files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id INTEGER NOT NULL REFERENCES applications(id),
    owner_id INTEGER REFERENCES users(id),
    channel_id INTEGER REFERENCES channels(id) ON DELETE SET NULL,
    token TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    public INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
);

CREATE INDEX messages_thread ON messages (thread_id) WHERE thread_id IS NOT NULL;
