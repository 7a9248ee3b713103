-- Live stream events (track, platform, country, time) from the ingest API, opted-in listeners and the
-- sandbox. Each track has its own sequence: ``live_tracks.last_seq`` is the seq of its newest event,
-- and ``epoch`` names that sequence (a client resuming with another epoch cannot trust its seq).
CREATE TABLE live_tracks (
    track_id uuid PRIMARY KEY REFERENCES tracks (id) ON DELETE CASCADE,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    epoch text NOT NULL,
    last_seq bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0)
);

-- The raw events, kept for 8 days: the resume history of WebSocket clients, and the memory of event
-- ids that makes a re-sent event a no-op (an event may be at most 7 days old when it arrives, so its id
-- is remembered for as long as it could be sent again).
CREATE TABLE stream_events (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_id text NOT NULL,
    track_id uuid NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    platform text NOT NULL,
    country text NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, event_id)
);
CREATE UNIQUE INDEX stream_events_track_seq ON stream_events (track_id, seq);
CREATE INDEX stream_events_received ON stream_events (received_at);

-- Streams per track, five-minute bucket (by event time) and country: the realtime endpoint and the live
-- counts. Kept 8 days, like the raw events.
CREATE TABLE stream_buckets (
    track_id uuid NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    bucket_start timestamptz NOT NULL,
    country text NOT NULL,
    streams bigint NOT NULL CHECK (streams > 0),
    PRIMARY KEY (track_id, bucket_start, country)
);

-- Streams per track, UTC day, country and platform, kept for good: a year of events stays queryable
-- at a few hundred rows per track and day. ``updated_at`` lets the engine find the days that changed.
CREATE TABLE stream_days (
    track_id uuid NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    day date NOT NULL,
    country text NOT NULL,
    platform text NOT NULL,
    streams bigint NOT NULL CHECK (streams > 0),
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (track_id, day, country, platform)
);
CREATE INDEX stream_days_updated ON stream_days (updated_at);

-- Streams now reach campaigns only through stream events (opted-in listeners' plays included), counted
-- by the engine's stream counter: the per-listener facts that counted those plays before would add to
-- them. Their campaigns' totals are recomputed without them first.
UPDATE campaigns c SET streams = coalesce((
    SELECT sum(f.value) FROM campaign_daily_facts f
    WHERE f.campaign_id = c.id AND f.metric = 'streams' AND f.source NOT LIKE 'listener:%'), 0)
WHERE EXISTS (SELECT 1 FROM campaign_daily_facts f WHERE f.campaign_id = c.id AND f.source LIKE 'listener:%');
DELETE FROM campaign_daily_facts WHERE source LIKE 'listener:%';
