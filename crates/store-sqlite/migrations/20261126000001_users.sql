-- Accounts. Emails are stored normalised (lower-cased); the unique index on lower(email) keeps the
-- rule even for rows written by hand.
CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL,
    password_hash TEXT,
    role          TEXT NOT NULL DEFAULT 'seeker' CHECK (role IN ('seeker', 'recruiter', 'admin')),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;

CREATE UNIQUE INDEX users_email_key ON users (lower(email));
