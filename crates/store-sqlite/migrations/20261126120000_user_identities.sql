-- Accounts at OpenID Connect providers linked to jobpilot accounts, keyed by the issuer's
-- stable subject id (never by e-mail address, which can change hands).
CREATE TABLE user_identities (
    issuer    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email     TEXT,
    linked_at TEXT NOT NULL,
    PRIMARY KEY (issuer, subject)
) STRICT;
CREATE INDEX user_identities_user_id ON user_identities (user_id);
