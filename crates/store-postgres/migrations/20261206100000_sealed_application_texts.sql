-- Cover letters, CV summaries, interview questions and notes are sealed with the key ring,
-- each bound to an id of its own. Rows written before keep their plain text, readable, until a
-- key rotation seals them (and empties the plain columns).
ALTER TABLE application_documents ADD COLUMN id TEXT;
ALTER TABLE application_documents ADD COLUMN content_sealed BYTEA;
UPDATE application_documents SET id = gen_random_uuid()::text;
CREATE UNIQUE INDEX application_documents_id ON application_documents (id);

-- Notes: those of a creation, a status move or a note entry (other details are the service's).
ALTER TABLE application_events ADD COLUMN note_id TEXT;
ALTER TABLE application_events ADD COLUMN detail_sealed BYTEA;
UPDATE application_events SET note_id = gen_random_uuid()::text
    WHERE kind IN ('created', 'status', 'note') AND detail IS NOT NULL;
CREATE UNIQUE INDEX application_events_note ON application_events (note_id);
