-- Data retention deletes postings closed long ago; this finds them without a full scan.
CREATE INDEX jobs_closed_at ON jobs (closed_at) WHERE closed_at IS NOT NULL;
