-- Applications: one per API key.
CREATE TABLE applications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    api_key TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL
);

-- Server-wide settings, e.g. the generated signing secret.
CREATE TABLE server_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id INTEGER NOT NULL REFERENCES applications(id),
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    display_picture_url TEXT,
    is_guest INTEGER NOT NULL,
    properties TEXT NOT NULL DEFAULT '{}',
    presence_status TEXT NOT NULL DEFAULT 'AVAILABLE',
    created_ms INTEGER NOT NULL,
    UNIQUE (app_id, name)
);

CREATE TABLE channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id INTEGER NOT NULL REFERENCES applications(id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    properties TEXT NOT NULL DEFAULT '{}',
    creator_id INTEGER REFERENCES users(id),
    -- DIRECT channels: the sorted member ids, so one set of members has one channel.
    direct_key TEXT,
    created_ms INTEGER NOT NULL,
    last_message_id INTEGER,
    last_activity_ms INTEGER NOT NULL,
    UNIQUE (app_id, name)
);
CREATE UNIQUE INDEX channels_direct_key ON channels (app_id, direct_key) WHERE direct_key IS NOT NULL;
CREATE INDEX channels_activity ON channels (app_id, last_activity_ms);

CREATE TABLE channel_members (
    channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id),
    role TEXT NOT NULL DEFAULT 'MEMBER',
    joined_ms INTEGER NOT NULL,
    last_read_message_id INTEGER NOT NULL DEFAULT 0,
    cleared_before_id INTEGER NOT NULL DEFAULT 0,
    hidden INTEGER NOT NULL DEFAULT 0,
    muted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX channel_members_user ON channel_members (user_id);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    user_id INTEGER REFERENCES users(id),
    kind TEXT NOT NULL,
    body TEXT,
    file TEXT,
    properties TEXT NOT NULL DEFAULT '{}',
    group_tag TEXT,
    parent_id INTEGER,
    thread_id INTEGER,
    mentions TEXT,
    links TEXT,
    created_ms INTEGER NOT NULL,
    edited_ms INTEGER,
    deleted_ms INTEGER,
    idempotency_key TEXT
);
CREATE INDEX messages_channel ON messages (channel_id, id);
CREATE INDEX messages_parent ON messages (parent_id) WHERE parent_id IS NOT NULL;
CREATE UNIQUE INDEX messages_idempotency ON messages (channel_id, user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
