-- TOTP two-factor authentication. Secrets are sealed (AES-256-GCM, bound to their row) before
-- they reach the database. totp_last_step refuses a code's reuse.
ALTER TABLE users ADD COLUMN totp_secret BLOB;
ALTER TABLE users ADD COLUMN totp_pending BLOB;
ALTER TABLE users ADD COLUMN totp_enabled_at TEXT;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;

-- Single-use backup codes, stored as SHA-256 (they carry 80 random bits).
CREATE TABLE backup_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BLOB NOT NULL,
    used_at   TEXT,
    PRIMARY KEY (user_id, code_hash)
) STRICT;
