-- Reactions are listed in the order they were made. Two made in the same millisecond
-- have the same `created_ms`; this sequence orders them as they were inserted (SQLite
-- orders them by its rowid; store/mod.rs, `reaction_order`). Existing rows are
-- numbered in the table's order.
ALTER TABLE reactions ADD COLUMN seq BIGSERIAL;
