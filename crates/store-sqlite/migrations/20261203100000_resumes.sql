-- Uploaded resumes. The file lies encrypted in file storage under file_key; the text extracted
-- from it is sealed with the key ring (text_sealed), so a copy of the database does not give
-- away what people wrote in their resumes.
CREATE TABLE resumes (
    id               TEXT PRIMARY KEY NOT NULL,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    file_name        TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('pdf', 'docx', 'text', 'markdown')),
    size_bytes       INTEGER NOT NULL CHECK (size_bytes >= 0),
    sha256           BLOB NOT NULL CHECK (length(sha256) = 32),
    file_key         TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'parsed', 'failed')),
    error            TEXT,
    text_sealed      BLOB,
    -- A JSON array of strings.
    skills           TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(skills)),
    -- The owner edited the skills: a re-parse leaves them alone.
    skills_edited    INTEGER NOT NULL DEFAULT 0 CHECK (skills_edited IN (0, 1)),
    years_experience REAL,
    seniority        TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    parsed_at        TEXT
) STRICT;
CREATE INDEX resumes_user_created ON resumes (user_id, created_at);
