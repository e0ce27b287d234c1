-- Per-room versions of the seats and stage states (engine-api.md §6, §7).
-- Each counter is incremented in the transaction of every change of that
-- state, so a client can order REST replies and signal pushes. Rows are never
-- deleted (`room_finished` keeps them), so a room's versions never go back.
CREATE TABLE room_state_versions (
    app_id        TEXT NOT NULL,
    room_name     TEXT NOT NULL,
    seats_version INTEGER NOT NULL DEFAULT 0,
    stage_version INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, room_name)
);
