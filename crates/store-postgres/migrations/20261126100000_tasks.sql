-- The durable task queue (crates/tasks owns every query on these tables).
CREATE TABLE tasks (
    id               UUID PRIMARY KEY,                   -- UUIDv7, so ids sort by creation time
    queue            TEXT NOT NULL,
    kind             TEXT NOT NULL,
    args             JSONB NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('scheduled', 'available', 'executing',
                         'retryable', 'completed', 'discarded', 'cancelled')),
    priority         SMALLINT NOT NULL DEFAULT 0,        -- higher runs first
    attempt          INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    scheduled_at     TIMESTAMPTZ NOT NULL,               -- not run before this time
    attempted_at     TIMESTAMPTZ,
    lease_owner      TEXT,                               -- the worker running it
    lease_expires_at TIMESTAMPTZ,                        -- rescued after this unless heartbeated
    errors           JSONB NOT NULL DEFAULT '[]',
    unique_key       TEXT,
    user_id          UUID,                               -- on whose behalf, for the owner's view
    meta             JSONB NOT NULL DEFAULT '{}',
    inserted_at      TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ                         -- completed, discarded or cancelled at
);

-- Unique tasks. Partial: most tasks have no key, and on PostgreSQL every row version of a task
-- (claimed, completed) would otherwise add an entry to this index too.
CREATE UNIQUE INDEX tasks_unique_key ON tasks (unique_key) WHERE unique_key IS NOT NULL;
-- The claim query: ready tasks of one queue, best priority first, oldest first.
CREATE INDEX tasks_ready ON tasks (queue, priority DESC, scheduled_at, id)
    WHERE state IN ('available', 'scheduled', 'retryable');
-- The rescuer and the heartbeat: executing tasks by lease.
CREATE INDEX tasks_executing ON tasks (lease_expires_at) WHERE state = 'executing';
-- The pruner.
CREATE INDEX tasks_finished ON tasks (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX tasks_user ON tasks (user_id, id) WHERE user_id IS NOT NULL;

-- One row per cron fire: with several replicas each fire inserts once, and so enqueues once.
CREATE TABLE task_cron_fires (
    schedule TEXT NOT NULL,
    fire_at  TIMESTAMPTZ NOT NULL,
    task_id  UUID NOT NULL,
    PRIMARY KEY (schedule, fire_at)
);
