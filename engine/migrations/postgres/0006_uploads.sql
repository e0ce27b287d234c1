-- PostgreSQL version of sqlite/0006_uploads.sql: files presigned into the
-- configured S3 bucket (docs/uploads-api.md). 'pending' until `complete` saw
-- the object, then 'ready'; chat sets message_id when it attaches the file
-- and its retention purge sets 'purge'. The uploads sweep deletes the objects
-- of 'purge' rows and of expired 'pending' rows, then the rows.
CREATE TABLE uploads (
    upload_id       TEXT COLLATE "C" PRIMARY KEY,
    app_id          TEXT COLLATE "C" NOT NULL,
    owner_identity  TEXT COLLATE "C" NOT NULL,
    content_type    TEXT COLLATE "C" NOT NULL,
    size            BIGINT NOT NULL,
    file_name       TEXT COLLATE "C",
    object_key      TEXT COLLATE "C" NOT NULL UNIQUE,
    status          TEXT COLLATE "C" NOT NULL CHECK (status IN ('pending', 'ready', 'purge')),
    created_at_ms   BIGINT NOT NULL,
    expires_at_ms   BIGINT NOT NULL,
    completed_at_ms BIGINT,
    message_id      TEXT COLLATE "C"
);
CREATE INDEX uploads_sweep ON uploads(status, expires_at_ms);
CREATE INDEX uploads_by_message ON uploads(message_id) WHERE message_id IS NOT NULL;
