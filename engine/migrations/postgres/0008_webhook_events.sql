-- PostgreSQL version of sqlite/0008_webhook_events.sql: LiveKit webhook
-- de-duplication by event id and per room / participant watermarks of the
-- newest applied event time (stale events are not applied).

CREATE TABLE webhook_events (
    event_id       TEXT COLLATE "C" NOT NULL,
    kind           TEXT COLLATE "C" NOT NULL,
    lk_room        TEXT COLLATE "C" NOT NULL,
    identity       TEXT COLLATE "C" NOT NULL,
    received_at_ms BIGINT NOT NULL,
    PRIMARY KEY (event_id, kind, lk_room, identity)
);
CREATE INDEX webhook_events_by_age ON webhook_events(received_at_ms);

CREATE TABLE webhook_watermarks (
    lk_room        TEXT COLLATE "C" NOT NULL,
    scope          TEXT COLLATE "C" NOT NULL CHECK (scope IN ('room', 'participant', 'mic')),
    identity       TEXT COLLATE "C" NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at_ms  BIGINT NOT NULL,
    PRIMARY KEY (lk_room, scope, identity)
);
CREATE INDEX webhook_watermarks_by_age ON webhook_watermarks(updated_at_ms);
