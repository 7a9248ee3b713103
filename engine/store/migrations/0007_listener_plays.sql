-- Plays of opted-in listeners, as Spotify's recently-played reports them, and each listener's cursor.
-- A listener plays one thing at a time, so (listener, played_at) identifies a play: re-polling an
-- overlapping window inserts nothing twice. We store plays at or after the listener's earliest opt-in
-- only (the poller's cursor starts there); which ones count for a campaign is decided when counting.
CREATE TABLE listener_plays (
    listener_id uuid NOT NULL REFERENCES listener_accounts (id) ON DELETE CASCADE,
    played_at timestamptz NOT NULL,
    spotify_track_id text NOT NULL,
    context_uri text,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (listener_id, played_at)
);
-- Daily counts read one listener's plays of one track over a time range.
CREATE INDEX listener_plays_track_idx ON listener_plays (listener_id, spotify_track_id, played_at);

ALTER TABLE listener_accounts
    -- The newest played_at (Unix ms) stored: the next poll's `after` cursor. NULL before the first play.
    ADD COLUMN plays_cursor_ms bigint,
    ADD COLUMN last_polled_at timestamptz,
    -- A long Retry-After (a daily quota): no call for this listener before then, across restarts.
    ADD COLUMN polls_parked_until timestamptz;
