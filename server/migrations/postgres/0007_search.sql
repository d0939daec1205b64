-- Full-text search over message bodies (docs/protocol.md §9.6): a tsvector of every
-- message that has a body and is not deleted (NULL otherwise), indexed with GIN.
-- Words are runs of letters and digits, as on SQLite: ASCII punctuation becomes a
-- space before the parser sees the text, so it finds no URLs, e-mail addresses or
-- hyphenated words of its own; the `simple` configuration folds case and keeps
-- accents and every word (no stemming, no stop words).
ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS (
    CASE WHEN deleted_ms IS NULL AND body IS NOT NULL AND body <> ''
        THEN to_tsvector('simple'::regconfig, regexp_replace(body, '[[:space:]!-/:-@[-`{-~]+', ' ', 'g'))
    END
) STORED;
CREATE INDEX messages_search ON messages USING GIN (search);
