-- Webhooks (docs/protocol.md §15.1): the operator's endpoints, the outbox of events to
-- deliver to each, and the recent delivery attempts.
--
-- Events are written by the triggers below, inside the statement that makes the change,
-- so an event commits or rolls back with its change whatever code path made it, and a
-- crash can never keep one without the other. Each trigger writes one outbox row per
-- enabled endpoint of the application that asked for the event type (none when the
-- application has no endpoint: the send path pays one index probe). The row holds
-- what the event is about (ids; a snapshot of what a delete removes); the delivery
-- worker renders the payload when it first sends it and keeps it for retries.

CREATE TABLE webhook_endpoints (
    id BIGSERIAL PRIMARY KEY,
    app_id BIGINT NOT NULL REFERENCES applications(id),
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- ',message.created,channel.created,' (the types it wants, each between commas),
    -- or '*' for every type.
    event_types TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    secret TEXT NOT NULL,
    -- After a rotation the previous secret signs too, until previous_until_ms.
    previous_secret TEXT,
    previous_until_ms BIGINT,
    -- The endpoint of --webhook-url, kept in step with the flags at start-up.
    is_default BIGINT NOT NULL DEFAULT 0,
    -- Since when every attempt has failed (NULL after a success).
    failing_since_ms BIGINT,
    last_success_ms BIGINT,
    created_ms BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_app ON webhook_endpoints (app_id);
-- One default endpoint per application, however many nodes start together.
CREATE UNIQUE INDEX webhook_endpoints_default ON webhook_endpoints (app_id) WHERE is_default = 1;

CREATE TABLE webhook_outbox (
    id BIGSERIAL PRIMARY KEY,
    endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    app_id BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    subject_id BIGINT,
    data TEXT,
    created_ms BIGINT NOT NULL,
    -- 0 pending, 1 delivered, 2 failed (every attempt of the schedule failed).
    state BIGINT NOT NULL DEFAULT 0,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    -- The node sending it, until when (another node may take it over after that).
    claimed_by TEXT,
    claimed_until BIGINT,
    payload TEXT,
    finished_ms BIGINT
);
CREATE INDEX webhook_outbox_pending ON webhook_outbox (endpoint_id, next_attempt_ms) WHERE state = 0;
CREATE INDEX webhook_outbox_endpoint ON webhook_outbox (endpoint_id, id);

CREATE TABLE webhook_attempts (
    id BIGSERIAL PRIMARY KEY,
    endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    outbox_id BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    -- The HTTP status answered; NULL when there was no answer.
    status BIGINT,
    error TEXT,
    duration_ms BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);

-- One outbox row per enabled endpoint of `app` that wants `kind`.
CREATE FUNCTION webhook_enqueue(app BIGINT, kind TEXT, subject BIGINT, extra TEXT, at_ms BIGINT)
RETURNS void AS $$
BEGIN
    INSERT INTO webhook_outbox (endpoint_id, app_id, event_type, subject_id, data, created_ms, next_attempt_ms)
    SELECT e.id, e.app_id, kind, subject, extra, at_ms, at_ms
    FROM webhook_endpoints e
    WHERE e.app_id = app AND e.enabled = 1
        AND (e.event_types = '*' OR e.event_types LIKE '%,' || kind || ',%');
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION webhook_now_ms() RETURNS BIGINT AS $$
BEGIN
    RETURN (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION webhook_messages() RETURNS trigger AS $$
DECLARE app BIGINT;
BEGIN
    SELECT c.app_id INTO app FROM channels c WHERE c.id = NEW.channel_id;
    IF TG_OP = 'INSERT' THEN
        PERFORM webhook_enqueue(app, 'message.created', NEW.id, NULL, NEW.created_ms);
    ELSIF OLD.deleted_ms IS NULL AND NEW.deleted_ms IS NOT NULL THEN
        PERFORM webhook_enqueue(app, 'message.deleted', NEW.id, NULL, NEW.deleted_ms);
    ELSIF NEW.deleted_ms IS NULL AND NEW.edited_ms IS DISTINCT FROM OLD.edited_ms THEN
        PERFORM webhook_enqueue(app, 'message.updated', NEW.id, NULL, NEW.edited_ms);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER webhook_messages AFTER INSERT OR UPDATE OF edited_ms, deleted_ms ON messages
    FOR EACH ROW EXECUTE FUNCTION webhook_messages();

-- Not for the reactions a deleted message (or channel) takes with it.
CREATE FUNCTION webhook_reactions() RETURNS trigger AS $$
DECLARE app BIGINT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT c.app_id INTO app FROM messages m JOIN channels c ON c.id = m.channel_id
            WHERE m.id = NEW.message_id;
        PERFORM webhook_enqueue(app, 'reaction.added', NEW.message_id,
            json_build_object('messageId', NEW.message_id, 'userId', NEW.user_id, 'emoji', NEW.emoji)::text,
            NEW.created_ms);
    ELSE
        SELECT c.app_id INTO app FROM messages m JOIN channels c ON c.id = m.channel_id
            WHERE m.id = OLD.message_id AND m.deleted_ms IS NULL;
        IF app IS NOT NULL THEN
            PERFORM webhook_enqueue(app, 'reaction.removed', OLD.message_id,
                json_build_object('messageId', OLD.message_id, 'userId', OLD.user_id, 'emoji', OLD.emoji)::text,
                webhook_now_ms());
        END IF;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER webhook_reactions AFTER INSERT OR DELETE ON reactions
    FOR EACH ROW EXECUTE FUNCTION webhook_reactions();

CREATE FUNCTION webhook_channels() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM webhook_enqueue(NEW.app_id, 'channel.created', NEW.id, NULL, NEW.created_ms);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM webhook_enqueue(OLD.app_id, 'channel.deleted', OLD.id,
            json_build_object('id', OLD.id, 'type', OLD.kind, 'name', OLD.name,
                'displayName', OLD.display_name, 'properties', OLD.properties::json)::text,
            webhook_now_ms());
    ELSIF NEW.name IS DISTINCT FROM OLD.name OR NEW.display_name IS DISTINCT FROM OLD.display_name
        OR NEW.properties IS DISTINCT FROM OLD.properties THEN
        PERFORM webhook_enqueue(NEW.app_id, 'channel.updated', NEW.id, NULL, webhook_now_ms());
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER webhook_channels AFTER INSERT OR DELETE OR UPDATE OF name, display_name, properties
    ON channels FOR EACH ROW EXECUTE FUNCTION webhook_channels();

-- Not for the members a deleted channel takes with it (the channel row goes first).
CREATE FUNCTION webhook_members() RETURNS trigger AS $$
DECLARE app BIGINT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT c.app_id INTO app FROM channels c WHERE c.id = NEW.channel_id;
        PERFORM webhook_enqueue(app, 'member.added', NEW.channel_id,
            json_build_object('channelId', NEW.channel_id, 'userId', NEW.user_id, 'role', NEW.role)::text,
            NEW.joined_ms);
    ELSE
        SELECT c.app_id INTO app FROM channels c WHERE c.id = OLD.channel_id;
        IF app IS NOT NULL THEN
            PERFORM webhook_enqueue(app, 'member.removed', OLD.channel_id,
                json_build_object('channelId', OLD.channel_id, 'userId', OLD.user_id, 'role', OLD.role)::text,
                webhook_now_ms());
        END IF;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER webhook_members AFTER INSERT OR DELETE ON channel_members
    FOR EACH ROW EXECUTE FUNCTION webhook_members();

CREATE FUNCTION webhook_users() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM webhook_enqueue(NEW.app_id, 'user.created', NEW.id, NULL, NEW.created_ms);
    ELSIF NEW.display_name IS DISTINCT FROM OLD.display_name
        OR NEW.display_picture_url IS DISTINCT FROM OLD.display_picture_url
        OR NEW.properties IS DISTINCT FROM OLD.properties
        OR NEW.presence_status IS DISTINCT FROM OLD.presence_status THEN
        PERFORM webhook_enqueue(NEW.app_id, 'user.updated', NEW.id, NULL, webhook_now_ms());
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER webhook_users AFTER INSERT OR UPDATE OF display_name, display_picture_url, properties, presence_status
    ON users FOR EACH ROW EXECUTE FUNCTION webhook_users();
