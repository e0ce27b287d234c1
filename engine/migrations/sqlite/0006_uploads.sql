-- Uploads (docs/uploads-api.md): files presigned into the configured S3
-- bucket. A row is 'pending' until `complete` saw the object, then 'ready';
-- chat sets message_id in the send transaction that attaches it, and its
-- retention purge sets 'purge'. The uploads sweep deletes the objects of
-- 'purge' rows and of 'pending' rows past expires_at_ms, then the rows.
CREATE TABLE uploads (
    upload_id       TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL,
    owner_identity  TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    size            INTEGER NOT NULL,
    file_name       TEXT,
    object_key      TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'purge')),
    created_at_ms   INTEGER NOT NULL,
    expires_at_ms   INTEGER NOT NULL,
    completed_at_ms INTEGER,
    message_id      TEXT
);
CREATE INDEX uploads_sweep ON uploads(status, expires_at_ms);
CREATE INDEX uploads_by_message ON uploads(message_id) WHERE message_id IS NOT NULL;
