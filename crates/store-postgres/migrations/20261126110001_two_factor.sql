-- TOTP two-factor authentication. Secrets are sealed (AES-256-GCM, bound to their row) before
-- they reach the database. totp_last_step refuses a code's reuse.
ALTER TABLE users ADD COLUMN totp_secret BYTEA;
ALTER TABLE users ADD COLUMN totp_pending BYTEA;
ALTER TABLE users ADD COLUMN totp_enabled_at TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

-- Single-use backup codes, stored as SHA-256 (they carry 80 random bits).
CREATE TABLE backup_codes (
    user_id   UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BYTEA NOT NULL,
    used_at   TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);
