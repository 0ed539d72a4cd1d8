-- Job postings from every source, one row per (source, external id). The normalised posting is
-- kept as JSON; the columns beside it are what lookups, change detection and deduplication need.
CREATE TABLE jobs (
    id            TEXT PRIMARY KEY NOT NULL,
    source        TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    title         TEXT NOT NULL,
    company       TEXT,
    published_at  TEXT,
    data          TEXT NOT NULL,
    content_hash  BLOB NOT NULL,
    -- SimHash of the text (64 bits, stored signed).
    fingerprint   INTEGER NOT NULL,
    dedupe_key    TEXT,
    -- The canonical posting this one duplicates (the same job on another board).
    canonical_id  TEXT REFERENCES jobs (id) ON DELETE SET NULL,
    first_seen_at TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    closed_at     TEXT,
    change_seq    INTEGER NOT NULL,
    UNIQUE (source, external_id)
) STRICT;
CREATE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE canonical_id IS NULL AND closed_at IS NULL;
CREATE INDEX jobs_change_seq ON jobs (change_seq);
CREATE INDEX jobs_canonical_id ON jobs (canonical_id) WHERE canonical_id IS NOT NULL;

-- One row: the last change sequence number handed out. Every job write takes it first, so
-- writers are serialised and sequence numbers commit in order.
CREATE TABLE job_counters (
    id         INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    change_seq INTEGER NOT NULL
) STRICT;
INSERT INTO job_counters (id, change_seq) VALUES (1, 0);

-- The latest sync of each source: its progress (to resume after a crash) and its outcome.
CREATE TABLE source_runs (
    source          TEXT PRIMARY KEY NOT NULL,
    state           TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    cursor          TEXT,
    pages           INTEGER NOT NULL,
    created         INTEGER NOT NULL,
    updated         INTEGER NOT NULL,
    unchanged       INTEGER NOT NULL,
    duplicates      INTEGER NOT NULL,
    failed_items    INTEGER NOT NULL,
    closed          INTEGER NOT NULL,
    last_error      TEXT,
    item_errors     TEXT NOT NULL,
    last_success_at TEXT
) STRICT;
