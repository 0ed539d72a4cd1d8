-- The audit log becomes a hash chain (see store::audit): every entry carries
-- hash = SHA-256(previous hash || entry), so an edited, deleted or reordered entry is detected.
-- Details are kept as the exact text that was hashed.
ALTER TABLE audit_events ADD COLUMN hash BYTEA;
ALTER TABLE audit_events ALTER COLUMN details DROP DEFAULT;
ALTER TABLE audit_events ALTER COLUMN details TYPE TEXT USING details::text;
ALTER TABLE audit_events ALTER COLUMN details SET DEFAULT '{}';

-- The chain's head: the last sequence number and hash. Every append locks it first, so appends
-- are serialised and each one chains onto the one before.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

-- Retention prunes the oldest entries; the checkpoint keeps the last pruned entry's sequence
-- number and hash (sealed with the key ring), and verification starts from it.
CREATE TABLE audit_checkpoints (
    seq       BIGINT PRIMARY KEY,
    hash      BYTEA NOT NULL,
    pruned    BIGINT NOT NULL,
    pruned_at TIMESTAMPTZ NOT NULL,
    seal      BYTEA NOT NULL
);

-- Entries at or below this mark may be deleted (by pruning); no other entry may.
CREATE TABLE audit_prune_mark (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    below BIGINT NOT NULL
);
INSERT INTO audit_prune_mark (id, below) VALUES (1, 0);

DROP TRIGGER audit_events_no_change ON audit_events;
DROP FUNCTION audit_events_append_only();
-- A chained entry never changes; an entry from before the chain may only receive its hash.
CREATE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.seq > (SELECT below FROM audit_prune_mark WHERE id = 1) THEN
            RAISE EXCEPTION 'audit_events is append-only';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.hash IS NOT NULL
       OR (NEW.seq, NEW.at, NEW.actor_id, NEW.action, NEW.outcome, NEW.subject_id, NEW.ip,
           NEW.user_agent, NEW.details)
          IS DISTINCT FROM
          (OLD.seq, OLD.at, OLD.actor_id, OLD.action, OLD.outcome, OLD.subject_id, OLD.ip,
           OLD.user_agent, OLD.details) THEN
        RAISE EXCEPTION 'audit_events is append-only';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_events_guard BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_guard();
