-- Analytics: the ad accounts' timezones, uploaded stream reports, and exported files.

-- The Meta ad accounts the engine has read (``GET /me/adaccounts``). Their insights days are days of
-- ``timezone_name``; analytics names that zone next to the UTC days of streams.
CREATE TABLE meta_ad_accounts (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    account_id text NOT NULL,  -- act_<id>
    name text,
    currency text,
    timezone_name text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, account_id)
);

-- One uploaded file (``POST /v1/imports``, ``songtrack import``). The same bytes uploaded again find this
-- row instead of importing twice; its rows are upserted by their natural keys anyway.
CREATE TABLE imports (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    sha256 text NOT NULL,
    filename text NOT NULL,
    size_bytes integer NOT NULL CHECK (size_bytes >= 0),
    kind text NOT NULL,
    encoding text NOT NULL,
    track_id uuid REFERENCES tracks (id) ON DELETE SET NULL,  -- a per-song timeline's track
    artist text,  -- an audience timeline's artist
    status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    total_rows integer NOT NULL DEFAULT 0 CHECK (total_rows >= 0),
    done_rows integer NOT NULL DEFAULT 0 CHECK (done_rows >= 0),
    imported_rows integer NOT NULL DEFAULT 0 CHECK (imported_rows >= 0),
    row_errors jsonb NOT NULL DEFAULT '[]',  -- [{line, column, message}], at most 1,000 kept
    failed_rows integer NOT NULL DEFAULT 0 CHECK (failed_rows >= 0),
    error text,
    requested_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    UNIQUE (organization_id, sha256)
);
CREATE INDEX imports_org_created_idx ON imports (organization_id, created_at DESC);

-- A track's whole-day streams on a UTC day as a stream report (Spotify for Artists) says. Where a day
-- has one, it is the day's figure, and stream events of that day do not add to it (track_day_streams).
CREATE TABLE track_report_days (
    track_id uuid NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    day date NOT NULL,
    streams bigint NOT NULL CHECK (streams >= 0),
    source text NOT NULL,
    import_id uuid REFERENCES imports (id) ON DELETE SET NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (track_id, day)
);
CREATE INDEX track_report_days_updated ON track_report_days (updated_at);

-- An artist's audience timeline (Spotify for Artists): listeners, streams and followers per UTC day.
CREATE TABLE artist_report_days (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    artist text NOT NULL,
    day date NOT NULL,
    listeners bigint CHECK (listeners >= 0),
    streams bigint CHECK (streams >= 0),
    followers bigint CHECK (followers >= 0),
    import_id uuid REFERENCES imports (id) ON DELETE SET NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, artist, day)
);

-- The latest songs table (Spotify for Artists) row of a track: totals over the export's window.
CREATE TABLE track_report_totals (
    track_id uuid PRIMARY KEY REFERENCES tracks (id) ON DELETE CASCADE,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    listeners bigint CHECK (listeners >= 0),
    streams bigint NOT NULL CHECK (streams >= 0),
    saves bigint CHECK (saves >= 0),
    release_date date,
    import_id uuid REFERENCES imports (id) ON DELETE SET NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Distributor sales lines (DistroKid): monthly, per store and country. Lines have no id, so a line's key
-- is a digest of its fields and its occurrence among identical lines of the file: the same report, or a
-- later one that repeats it, adds nothing.
CREATE TABLE distributor_sales (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    line_key text COLLATE "C" NOT NULL,  -- hex digests: byte order compares fastest
    track_id uuid REFERENCES tracks (id) ON DELETE SET NULL,  -- by ISRC
    reporting_date date NOT NULL,
    sale_month date NOT NULL,
    store text NOT NULL,
    artist text NOT NULL,
    title text NOT NULL,
    isrc text,
    upc text,
    quantity bigint NOT NULL,
    country text NOT NULL,
    earnings_usd numeric(24, 10) NOT NULL,
    source_type text,
    import_id uuid REFERENCES imports (id) ON DELETE SET NULL,
    PRIMARY KEY (organization_id, line_key)
);
CREATE INDEX distributor_sales_track_idx ON distributor_sales (track_id, sale_month);
CREATE INDEX distributor_sales_isrc_idx ON distributor_sales (organization_id, isrc);

-- A track's streams per UTC day: the stream report's figure where one exists, else the sum of its stream
-- events. The one definition analytics and the stream counter read.
CREATE VIEW track_day_streams AS
SELECT r.organization_id, r.track_id, r.day, r.streams, 'report' AS source
FROM track_report_days r
UNION ALL
SELECT t.organization_id, d.track_id, d.day, sum(d.streams)::bigint, 'events'
FROM stream_days d JOIN tracks t ON t.id = d.track_id
WHERE NOT EXISTS (SELECT 1 FROM track_report_days r WHERE r.track_id = d.track_id AND r.day = d.day)
GROUP BY t.organization_id, d.track_id, d.day;

-- Exported reports (``POST /v1/analytics/campaigns/{id}/export``, the daily report): made in the
-- background, served by a signed link until ``expires_at``, then deleted by the housekeeper.
CREATE TABLE report_exports (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind text NOT NULL DEFAULT 'campaign' CHECK (kind IN ('campaign', 'daily')),
    campaign_id uuid REFERENCES campaigns (id) ON DELETE CASCADE,
    granularity text NOT NULL DEFAULT 'day' CHECK (granularity IN ('day', 'week', 'month')),
    format text NOT NULL CHECK (format IN ('csv', 'xlsx', 'pdf')),
    period_start date NOT NULL,
    period_end date NOT NULL,
    status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    progress integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    error text,
    filename text NOT NULL,
    content bytea,
    requested_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    expires_at timestamptz NOT NULL,
    CHECK ((kind = 'campaign') = (campaign_id IS NOT NULL))
);
CREATE INDEX report_exports_org_idx ON report_exports (organization_id, created_at DESC);
CREATE INDEX report_exports_expires_idx ON report_exports (expires_at);
-- One daily report per organization and day, however many engines try.
CREATE UNIQUE INDEX report_exports_daily_key ON report_exports (organization_id, period_start) WHERE kind = 'daily';
