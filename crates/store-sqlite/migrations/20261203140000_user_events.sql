-- What happened to a user's things in the background (an application moved, a submission sent,
-- documents written, a resume read), kept for a few days so a reconnecting browser can replay
-- what it missed. Written in the same transaction as the change it reports.
CREATE TABLE user_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    data       TEXT NOT NULL CHECK (json_valid(data)),
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX user_events_user ON user_events (user_id, seq);
CREATE INDEX user_events_created ON user_events (created_at);
