-- Full-text search over message bodies (docs/protocol.md §9.6). An FTS5 index that
-- holds only the words (contentless: the text stays in `messages`), keyed by message
-- id, of every message that has a body and is not deleted. Words are runs of letters
-- and digits, case-folded, accents kept (the same on PostgreSQL). Column `channel`
-- holds one token per message, `c<channel id>`, so a search within one channel is an
-- intersection in the index rather than a scan of the app's matches.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    body, channel, content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 0'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
WHEN NEW.body IS NOT NULL AND NEW.body <> '' AND NEW.deleted_ms IS NULL
BEGIN
    INSERT INTO messages_fts (rowid, body, channel) VALUES (NEW.id, NEW.body, 'c' || NEW.channel_id);
END;

-- An edit reindexes the message; a delete for everyone (body erased, deleted_ms set)
-- takes it out.
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body, deleted_ms ON messages
BEGIN
    DELETE FROM messages_fts WHERE rowid = OLD.id;
    INSERT INTO messages_fts (rowid, body, channel)
        SELECT NEW.id, NEW.body, 'c' || NEW.channel_id
        WHERE NEW.body IS NOT NULL AND NEW.body <> '' AND NEW.deleted_ms IS NULL;
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
BEGIN
    DELETE FROM messages_fts WHERE rowid = OLD.id;
END;

INSERT INTO messages_fts (rowid, body, channel)
    SELECT id, body, 'c' || channel_id FROM messages
    WHERE body IS NOT NULL AND body <> '' AND deleted_ms IS NULL;
