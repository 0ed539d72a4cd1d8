-- Resumes uploaded together (a recruiter's batch) share a batch id, for its progress report.
ALTER TABLE resumes ADD COLUMN batch_id UUID;
CREATE INDEX resumes_batch ON resumes (user_id, batch_id) WHERE batch_id IS NOT NULL;

-- A seeker shares a resume with a recruiter, who can then rank it against postings.
CREATE TABLE resume_shares (
    resume_id    UUID NOT NULL REFERENCES resumes (id) ON DELETE CASCADE,
    recruiter_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (resume_id, recruiter_id)
);
CREATE INDEX resume_shares_recruiter ON resume_shares (recruiter_id);
