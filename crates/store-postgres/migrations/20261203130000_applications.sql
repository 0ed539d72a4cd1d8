-- A user's applications to jobs: one per user and job, moved along a status pipeline.
CREATE TABLE applications (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Postings with applications are kept by the retention pruning.
    job_id      UUID NOT NULL REFERENCES jobs (id),
    resume_id   UUID REFERENCES resumes (id) ON DELETE SET NULL,
    status      TEXT NOT NULL CHECK (status IN ('saved', 'applied', 'interviewing', 'offer',
                                                 'accepted', 'rejected', 'withdrawn')),
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    applied_at  TIMESTAMPTZ,
    closed_at   TIMESTAMPTZ,
    UNIQUE (user_id, job_id)
);
CREATE INDEX applications_user_status ON applications (user_id, status, id);
CREATE INDEX applications_job ON applications (job_id);

-- Each application's history: creation, status moves, notes, documents, submission outcomes.
CREATE TABLE application_events (
    seq            BIGSERIAL PRIMARY KEY,
    application_id UUID NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    user_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL,
    from_status    TEXT,
    to_status      TEXT,
    detail         TEXT,
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX application_events_application ON application_events (application_id, seq);
CREATE INDEX application_events_user ON application_events (user_id, to_status);

-- Versions of an application's documents (cover letter, CV summary, interview questions).
CREATE TABLE application_documents (
    application_id      UUID NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    version             BIGINT NOT NULL CHECK (version > 0),
    generator           TEXT NOT NULL CHECK (generator IN ('template', 'llm', 'edited')),
    model               TEXT,
    cover_letter        TEXT NOT NULL,
    cv_summary          TEXT NOT NULL,
    interview_questions JSONB NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (application_id, version)
);

-- The one submission of a user to a job, ever: it outlives the application that made it.
CREATE TABLE application_submissions (
    user_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    job_id         UUID NOT NULL REFERENCES jobs (id),
    application_id UUID UNIQUE REFERENCES applications (id) ON DELETE SET NULL,
    channel        TEXT NOT NULL CHECK (channel IN ('link', 'email', 'hh')),
    state          TEXT NOT NULL CHECK (state IN ('queued', 'awaiting_confirmation', 'sending',
                                                   'sent', 'failed', 'unknown')),
    task_id        UUID,
    to_address     TEXT,
    apply_url      TEXT,
    -- HH.ru channel: the user's HH.ru resume it goes with.
    hh_resume_id   TEXT,
    external_id    TEXT,
    error          TEXT,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    sent_at        TIMESTAMPTZ,
    PRIMARY KEY (user_id, job_id)
);
CREATE INDEX application_submissions_sent ON application_submissions (user_id, channel, sent_at);
CREATE INDEX application_submissions_job ON application_submissions (job_id);
