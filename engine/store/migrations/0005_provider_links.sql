-- What ties our rows to the providers' objects, and the work done against them: a campaign's Meta
-- campaign, an audience's Meta custom audience, manual sync runs with their progress, and the fans who
-- opted in to a campaign through its public link with their Spotify account.

ALTER TABLE campaigns
    ADD COLUMN meta_ad_account_id text,
    ADD COLUMN meta_campaign_id text,
    ADD COLUMN meta_effective_status text,
    ADD CONSTRAINT campaigns_meta_link_check CHECK ((meta_ad_account_id IS NULL) = (meta_campaign_id IS NULL));
CREATE UNIQUE INDEX campaigns_meta_campaign_key ON campaigns (organization_id, meta_campaign_id)
    WHERE meta_campaign_id IS NOT NULL;

ALTER TABLE audiences
    ADD COLUMN meta_ad_account_id text,
    ADD COLUMN meta_audience_id text,
    ADD COLUMN meta_synced_at timestamptz,
    ADD CONSTRAINT audiences_meta_link_check CHECK ((meta_ad_account_id IS NULL) = (meta_audience_id IS NULL));

-- One row per POST /v1/integrations/{provider}/sync; progress is done of total items.
CREATE TABLE sync_runs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    provider text NOT NULL CHECK (provider IN ('meta', 'spotify')),
    status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    total integer NOT NULL DEFAULT 0 CHECK (total >= 0),
    done integer NOT NULL DEFAULT 0 CHECK (done >= 0),
    error text,
    requested_by uuid REFERENCES users (id) ON DELETE SET NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    -- Bumped with each step: a running row that stops moving belonged to a process that died.
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX sync_runs_latest_idx ON sync_runs (organization_id, provider, started_at DESC);
-- At most one run at a time per organization and provider.
CREATE UNIQUE INDEX sync_runs_one_running_key ON sync_runs (organization_id, provider) WHERE status = 'running';

-- A campaign's public opt-in link: /v1/listen/{token}. The token is unguessable, not secret.
CREATE TABLE campaign_listen_links (
    campaign_id uuid PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    token text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A fan's Spotify account, connected with user-read-recently-played; tokens sealed as in integrations.
CREATE TABLE listener_accounts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    spotify_user_id text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    status text NOT NULL DEFAULT 'connected' CHECK (status IN ('connected', 'needs_reauth')),
    access_token_sealed text NOT NULL,
    refresh_token_sealed text,
    token_expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, spotify_user_id)
);

-- Which campaigns a listener opted in to, and when (plays after that moment count as matches).
CREATE TABLE campaign_listeners (
    campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    listener_id uuid NOT NULL REFERENCES listener_accounts (id) ON DELETE CASCADE,
    opted_in_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, listener_id)
);
CREATE INDEX campaign_listeners_listener_idx ON campaign_listeners (listener_id);

-- Pending listener logins: like oauth_states, but started by an anonymous fan for one campaign.
ALTER TABLE oauth_states
    ALTER COLUMN user_id DROP NOT NULL,
    ADD COLUMN campaign_id uuid REFERENCES campaigns (id) ON DELETE CASCADE,
    ADD CONSTRAINT oauth_states_owner_check CHECK (user_id IS NOT NULL OR campaign_id IS NOT NULL);
