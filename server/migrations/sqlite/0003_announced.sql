-- Whether a message sent with an idempotency key has been announced to every node.
-- A retry of one that was not (its node died between the commit and the cluster
-- publish) announces it again.
ALTER TABLE messages ADD COLUMN announced INTEGER NOT NULL DEFAULT 1;
