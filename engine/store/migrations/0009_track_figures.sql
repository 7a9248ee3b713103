-- Spotify's figures of a catalogue track (its popularity, its first artist's followers) as the label
-- account's actor observed them: one row per track and UTC day, and a later poll of the same day
-- replaces the row (the latest observation of the day wins). NULL means Spotify did not say (a
-- development-mode app gets neither figure), never zero.
CREATE TABLE track_figures (
    track_id uuid NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    day date NOT NULL,
    popularity integer CHECK (popularity BETWEEN 0 AND 100),
    artist_followers bigint CHECK (artist_followers >= 0),
    observed_at timestamptz NOT NULL,
    PRIMARY KEY (track_id, day)  -- also serves a track's history, read in day order
);
