-- What a label markets: tracks, the campaigns that promote them (with budgets and
-- goals), and the audiences they target. Every row belongs to one organization and
-- every query filters on it.

CREATE TABLE tracks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    title text NOT NULL,
    artist text NOT NULL,
    album text,
    release_date date,
    duration_seconds integer CHECK (duration_seconds > 0),
    spotify_id text,
    isrc text,
    cover_art_url text,
    genres text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tracks_organization_idx ON tracks (organization_id, created_at);
CREATE UNIQUE INDEX tracks_spotify_id_key ON tracks (organization_id, spotify_id) WHERE spotify_id IS NOT NULL;

CREATE TABLE audiences (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name text NOT NULL,
    description text,
    kind text NOT NULL DEFAULT 'custom' CHECK (kind IN ('custom', 'lookalike')),
    criteria jsonb NOT NULL DEFAULT '{}',
    -- A lookalike is a child of the audience it was built from, and goes with it.
    source_audience_id uuid REFERENCES audiences (id) ON DELETE CASCADE,
    lookalike_countries text[],
    lookalike_ratio numeric(4, 3),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'lookalike') = (source_audience_id IS NOT NULL))
);
CREATE INDEX audiences_organization_idx ON audiences (organization_id, created_at);
CREATE INDEX audiences_source_idx ON audiences (source_audience_id);

CREATE TABLE campaigns (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    track_id uuid REFERENCES tracks (id) ON DELETE SET NULL,
    name text NOT NULL,
    description text,
    objective text NOT NULL,
    status text NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'active', 'paused', 'completed', 'archived')),
    budget numeric(14, 2) NOT NULL CHECK (budget >= 0),
    currency char(3) NOT NULL,
    start_date timestamptz NOT NULL,
    end_date timestamptz NOT NULL,
    target_audience jsonb NOT NULL DEFAULT '{}',
    creative_assets jsonb NOT NULL DEFAULT '{}',
    -- Running totals, maintained by the aggregator from stored daily facts.
    budget_spent numeric(14, 2) NOT NULL DEFAULT 0,
    impressions bigint NOT NULL DEFAULT 0,
    clicks bigint NOT NULL DEFAULT 0,
    streams bigint NOT NULL DEFAULT 0,
    launched_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (end_date > start_date)
);
CREATE INDEX campaigns_organization_idx ON campaigns (organization_id, created_at);
CREATE INDEX campaigns_organization_status_idx ON campaigns (organization_id, status);
CREATE INDEX campaigns_track_idx ON campaigns (track_id);

-- Targets the alert engine watches: at most one per metric per campaign.
CREATE TABLE campaign_goals (
    campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    metric text NOT NULL CHECK (metric IN ('streams', 'clicks', 'impressions')),
    target bigint NOT NULL CHECK (target > 0),
    PRIMARY KEY (campaign_id, metric)
);
