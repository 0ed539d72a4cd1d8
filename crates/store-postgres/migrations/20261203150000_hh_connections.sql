-- A user's HH.ru account connection (OAuth2), for applying through HH.ru. Both tokens are sealed
-- with the key ring, bound to this table, column and user.
CREATE TABLE hh_connections (
    user_id        UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    access_sealed  BYTEA NOT NULL,
    refresh_sealed BYTEA NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
