-- 1:1 calls (engine-api.md §5). A call's media room is the rooms row with
-- room_name = call_id and stream_type audio_call / video_call (no owner), so
-- a room-token mint of another stream type for that name is a conflict.
-- The ring deadline is not stored: it is created_at_ms + the ring timeout;
-- the engine's ring sweeper finds the due calls here.
CREATE TABLE calls (
    call_id            TEXT PRIMARY KEY,
    app_id             TEXT NOT NULL REFERENCES apps(app_id),
    call_type          TEXT NOT NULL,
    status             TEXT NOT NULL,
    caller_identity    TEXT NOT NULL,
    caller_name        TEXT,
    callee_identity    TEXT NOT NULL,
    callee_name        TEXT,
    metadata           TEXT NOT NULL,
    created_at_ms      INTEGER NOT NULL,
    updated_at_ms      INTEGER NOT NULL,
    -- Set when accepted; answered_by_device may stay NULL (no device id).
    answered_at_ms     INTEGER,
    answered_by_device TEXT,
    end_reason         TEXT
);
-- Calls still ringing (scheduled for the ring timeout on start).
CREATE INDEX calls_pending ON calls(status) WHERE status IN ('initiating', 'ringing');
