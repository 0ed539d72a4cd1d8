-- Postings recruiters publish on jobpilot itself (source `jobpilot`) belong to them: only they
-- (and administrators) edit and close them. A deleted account's postings are closed first; the
-- reference is then cleared, and the posting stays for the applications that point at it.
ALTER TABLE jobs ADD COLUMN owner_id TEXT REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX jobs_owner_id ON jobs (owner_id) WHERE owner_id IS NOT NULL;
