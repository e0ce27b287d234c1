-- LiveKit webhooks (engine-api.md §9) may reach any engine node, twice, or
-- late. Each event is applied in one transaction that first records its id
-- here (INSERT ... ON CONFLICT DO NOTHING: no row inserted means a
-- duplicate, received by an earlier delivery) and checks and advances the
-- watermarks below. LiveKit event ids are unique; the key also holds the
-- event's kind, room and participant identity ('' for room events), so an
-- id reused for another event is not mistaken for a redelivery. Rows older
-- than the retention window (24 h) are pruned.
CREATE TABLE webhook_events (
    event_id       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    lk_room        TEXT NOT NULL,
    identity       TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    PRIMARY KEY (event_id, kind, lk_room, identity)
);
CREATE INDEX webhook_events_by_age ON webhook_events(received_at_ms);

-- The newest applied event time (LiveKit `created_at`, seconds) per LiveKit
-- room (`<app_id>_<room>`) and scope: 'room' (room_started / room_finished,
-- identity ''), 'participant' (participant_joined / participant_left /
-- participant_connection_aborted) and 'mic' (microphone track events) of an
-- identity. An event older than the newest of its scope (or of a scope that
-- covers it: the room covers its participants, a participant its tracks) is
-- stale and not applied. Pruned like webhook_events, by updated_at_ms.
CREATE TABLE webhook_watermarks (
    lk_room        TEXT NOT NULL,
    scope          TEXT NOT NULL CHECK (scope IN ('room', 'participant', 'mic')),
    identity       TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (lk_room, scope, identity)
);
CREATE INDEX webhook_watermarks_by_age ON webhook_watermarks(updated_at_ms);
