-- Uploaded resumes. The file lies encrypted in file storage under file_key; the text extracted
-- from it is sealed with the key ring (text_sealed), so a copy of the database does not give
-- away what people wrote in their resumes.
CREATE TABLE resumes (
    id               UUID PRIMARY KEY,
    user_id          UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    file_name        TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('pdf', 'docx', 'text', 'markdown')),
    size_bytes       BIGINT NOT NULL CHECK (size_bytes >= 0),
    sha256           BYTEA NOT NULL CHECK (length(sha256) = 32),
    file_key         TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'parsed', 'failed')),
    error            TEXT,
    text_sealed      BYTEA,
    skills           JSONB NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(skills) = 'array'),
    -- The owner edited the skills: a re-parse leaves them alone.
    skills_edited    BOOLEAN NOT NULL DEFAULT false,
    years_experience REAL,
    seniority        TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    parsed_at        TIMESTAMPTZ
);
CREATE INDEX resumes_user_created ON resumes (user_id, created_at);
