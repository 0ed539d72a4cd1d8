-- Accounts. Emails are stored normalised (lower-cased); the unique index on lower(email) keeps the
-- rule even for rows written by hand.
CREATE TABLE users (
    id            UUID PRIMARY KEY,
    email         TEXT NOT NULL,
    password_hash TEXT,
    role          TEXT NOT NULL DEFAULT 'seeker' CHECK (role IN ('seeker', 'recruiter', 'admin')),
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

CREATE UNIQUE INDEX users_email_key ON users (lower(email));
