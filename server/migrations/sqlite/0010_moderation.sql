-- Moderation (docs/protocol.md §22): bans from the whole application and from one
-- channel, members muted in a channel, flagged messages awaiting review, slow mode,
-- and each application's blocklist.

-- Banned from the application: no session starts; live ones were ended.
CREATE TABLE app_bans (
    app_id INTEGER NOT NULL REFERENCES applications(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    reason TEXT NOT NULL DEFAULT '',
    expires_ms INTEGER,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (app_id, user_id)
);

-- Banned from a channel (and removed from it): cannot read, join or post there.
CREATE TABLE channel_bans (
    channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id),
    reason TEXT NOT NULL DEFAULT '',
    expires_ms INTEGER,
    by_user_id INTEGER,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (channel_id, user_id)
);

-- Muted in a channel by a moderator: may read, may not post.
CREATE TABLE channel_mutes (
    channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id),
    expires_ms INTEGER,
    by_user_id INTEGER,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (channel_id, user_id)
);

-- Messages reported by users, for the app's review queue.
CREATE TABLE message_flags (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id INTEGER NOT NULL REFERENCES applications(id),
    message_id INTEGER NOT NULL REFERENCES messages(id),
    reporter_id INTEGER NOT NULL REFERENCES users(id),
    reason TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'OPEN',
    created_ms INTEGER NOT NULL,
    resolved_ms INTEGER,
    UNIQUE (message_id, reporter_id)
);
CREATE INDEX message_flags_queue ON message_flags (app_id, status, id);

-- Slow mode: seconds between a member's messages (moderators exempt); when each
-- member last posted in a slow-mode channel.
ALTER TABLE channels ADD COLUMN slow_mode_secs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE channel_members ADD COLUMN last_post_ms INTEGER NOT NULL DEFAULT 0;

-- Words and patterns refused or masked in messages of an application.
CREATE TABLE blocklist (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id INTEGER NOT NULL REFERENCES applications(id),
    pattern TEXT NOT NULL,
    is_regex INTEGER NOT NULL DEFAULT 0,
    action TEXT NOT NULL DEFAULT 'BLOCK',
    created_ms INTEGER NOT NULL,
    UNIQUE (app_id, pattern)
);
