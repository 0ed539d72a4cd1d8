-- A user's applications to jobs: one per user and job, moved along a status pipeline.
CREATE TABLE applications (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Postings with applications are kept by the retention pruning.
    job_id      TEXT NOT NULL REFERENCES jobs (id),
    resume_id   TEXT REFERENCES resumes (id) ON DELETE SET NULL,
    status      TEXT NOT NULL CHECK (status IN ('saved', 'applied', 'interviewing', 'offer',
                                                 'accepted', 'rejected', 'withdrawn')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    applied_at  TEXT,
    closed_at   TEXT,
    UNIQUE (user_id, job_id)
) STRICT;
CREATE INDEX applications_user_status ON applications (user_id, status, id);
CREATE INDEX applications_job ON applications (job_id);

-- Each application's history: creation, status moves, notes, documents, submission outcomes.
CREATE TABLE application_events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL,
    from_status    TEXT,
    to_status      TEXT,
    detail         TEXT,
    created_at     TEXT NOT NULL
) STRICT;
CREATE INDEX application_events_application ON application_events (application_id, seq);
CREATE INDEX application_events_user ON application_events (user_id, to_status);

-- Versions of an application's documents (cover letter, CV summary, interview questions).
CREATE TABLE application_documents (
    application_id      TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    version             INTEGER NOT NULL CHECK (version > 0),
    generator           TEXT NOT NULL CHECK (generator IN ('template', 'llm', 'edited')),
    model               TEXT,
    cover_letter        TEXT NOT NULL,
    cv_summary          TEXT NOT NULL,
    interview_questions TEXT NOT NULL CHECK (json_valid(interview_questions)),
    created_at          TEXT NOT NULL,
    PRIMARY KEY (application_id, version)
) STRICT;

-- The one submission of a user to a job, ever: it outlives the application that made it.
CREATE TABLE application_submissions (
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    job_id         TEXT NOT NULL REFERENCES jobs (id),
    application_id TEXT UNIQUE REFERENCES applications (id) ON DELETE SET NULL,
    channel        TEXT NOT NULL CHECK (channel IN ('link', 'email', 'hh')),
    state          TEXT NOT NULL CHECK (state IN ('queued', 'awaiting_confirmation', 'sending',
                                                   'sent', 'failed', 'unknown')),
    task_id        TEXT,
    to_address     TEXT,
    apply_url      TEXT,
    -- HH.ru channel: the user's HH.ru resume it goes with.
    hh_resume_id   TEXT,
    external_id    TEXT,
    error          TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    sent_at        TEXT,
    PRIMARY KEY (user_id, job_id)
) STRICT;
CREATE INDEX application_submissions_sent ON application_submissions (user_id, channel, sent_at);
CREATE INDEX application_submissions_job ON application_submissions (job_id);
