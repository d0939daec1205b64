-- User lists (a user's contacts, the Platform API's users) are pages in display-name
-- order: this index walks an application's users in that order, so a page reads its
-- own rows instead of every user of the application sorted (README, "Limits").
CREATE INDEX users_by_display_name ON users (app_id, LOWER(display_name), id);
