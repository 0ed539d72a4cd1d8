-- A seeker's alert for new postings matching one of their resumes.
CREATE TABLE match_alerts (
    resume_id  TEXT PRIMARY KEY NOT NULL REFERENCES resumes (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    min_score  REAL NOT NULL CHECK (min_score >= 0 AND min_score <= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    checked_at TEXT NOT NULL          -- postings first seen before this were looked at
) STRICT;
CREATE INDEX match_alerts_user ON match_alerts (user_id);

-- What each alert reported, so a posting is reported once (pruned after a week: evaluations
-- look back an hour at most).
CREATE TABLE match_alert_hits (
    resume_id  TEXT NOT NULL REFERENCES match_alerts (resume_id) ON DELETE CASCADE,
    job_id     TEXT NOT NULL,
    score      REAL NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (resume_id, job_id)
) STRICT;
CREATE INDEX match_alert_hits_created ON match_alert_hits (created_at);
