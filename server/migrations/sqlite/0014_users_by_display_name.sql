-- User lists (a user's contacts, the Platform API's users) are pages in display-name
-- order of the users not deleted: this index walks an application's users in that
-- order, so a page reads its own rows instead of every user of the application
-- sorted, and their count reads the index alone (README, "Limits").
CREATE INDEX users_by_display_name ON users (app_id, LOWER(display_name), id)
    WHERE deleted_ms IS NULL;
