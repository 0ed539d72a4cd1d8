-- Job postings from every source, one row per (source, external id). The normalised posting is
-- kept as JSON; the columns beside it are what lookups, change detection and deduplication need.
CREATE TABLE jobs (
    id            UUID PRIMARY KEY,
    source        TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    title         TEXT NOT NULL,
    company       TEXT,
    published_at  TIMESTAMPTZ,
    data          TEXT NOT NULL,
    content_hash  BYTEA NOT NULL,
    -- SimHash of the text (64 bits, stored signed).
    fingerprint   BIGINT NOT NULL,
    dedupe_key    TEXT,
    -- The canonical posting this one duplicates (the same job on another board).
    canonical_id  UUID REFERENCES jobs (id) ON DELETE SET NULL,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    closed_at     TIMESTAMPTZ,
    change_seq    BIGINT NOT NULL,
    UNIQUE (source, external_id)
);
CREATE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE canonical_id IS NULL AND closed_at IS NULL;
CREATE INDEX jobs_change_seq ON jobs (change_seq);
CREATE INDEX jobs_canonical_id ON jobs (canonical_id) WHERE canonical_id IS NOT NULL;

-- One row: the last change sequence number handed out. Every job write takes it first, so
-- writers are serialised and sequence numbers commit in order.
CREATE TABLE job_counters (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    change_seq BIGINT NOT NULL
);
INSERT INTO job_counters (id, change_seq) VALUES (1, 0);

-- The latest sync of each source: its progress (to resume after a crash) and its outcome.
CREATE TABLE source_runs (
    source          TEXT PRIMARY KEY,
    state           TEXT NOT NULL,
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    cursor          TEXT,
    pages           BIGINT NOT NULL,
    created         BIGINT NOT NULL,
    updated         BIGINT NOT NULL,
    unchanged       BIGINT NOT NULL,
    duplicates      BIGINT NOT NULL,
    failed_items    BIGINT NOT NULL,
    closed          BIGINT NOT NULL,
    last_error      TEXT,
    item_errors     TEXT NOT NULL,
    last_success_at TIMESTAMPTZ
);
