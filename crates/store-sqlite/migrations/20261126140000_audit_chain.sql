-- The audit log becomes a hash chain (see store::audit): every entry carries
-- hash = SHA-256(previous hash || entry), so an edited, deleted or reordered entry is detected.
ALTER TABLE audit_events ADD COLUMN hash BLOB;

-- The chain's head: the last sequence number and hash. Every append takes it first, so appends
-- are serialised and each one chains onto the one before.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB NOT NULL
) STRICT;
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

-- Retention prunes the oldest entries; the checkpoint keeps the last pruned entry's sequence
-- number and hash (sealed with the key ring), and verification starts from it.
CREATE TABLE audit_checkpoints (
    seq       INTEGER PRIMARY KEY NOT NULL,
    hash      BLOB NOT NULL,
    pruned    INTEGER NOT NULL,
    pruned_at TEXT NOT NULL,
    seal      BLOB NOT NULL
) STRICT;

-- Entries at or below this mark may be deleted (by pruning); no other entry may.
CREATE TABLE audit_prune_mark (
    id    INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    below INTEGER NOT NULL
) STRICT;
INSERT INTO audit_prune_mark (id, below) VALUES (1, 0);

-- A chained entry never changes; an entry from before the chain may only receive its hash.
DROP TRIGGER audit_events_no_update;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
WHEN OLD.hash IS NOT NULL OR NEW.seq IS NOT OLD.seq OR NEW.at IS NOT OLD.at
  OR NEW.actor_id IS NOT OLD.actor_id OR NEW.action IS NOT OLD.action
  OR NEW.outcome IS NOT OLD.outcome OR NEW.subject_id IS NOT OLD.subject_id
  OR NEW.ip IS NOT OLD.ip OR NEW.user_agent IS NOT OLD.user_agent
  OR NEW.details IS NOT OLD.details
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
DROP TRIGGER audit_events_no_delete;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN OLD.seq > (SELECT below FROM audit_prune_mark WHERE id = 1)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
