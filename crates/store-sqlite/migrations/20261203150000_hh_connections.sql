-- A user's HH.ru account connection (OAuth2), for applying through HH.ru. Both tokens are sealed
-- with the key ring, bound to this table, column and user.
CREATE TABLE hh_connections (
    user_id        TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    access_sealed  BLOB NOT NULL,
    refresh_sealed BLOB NOT NULL,
    expires_at     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
) STRICT;
