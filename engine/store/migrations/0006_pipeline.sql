-- The pipeline: daily metric facts from the account actors, the alerts the aggregator's rules fire, the
-- notifications members read, and the webhook outbox the dispatcher drains (WEBHOOKS.md).

-- One value per (campaign, day, metric, source): a re-poll or a provider's restatement replaces it,
-- never adds. A campaign's figure for a day is the sum over its sources (its Meta campaign; each opted-in
-- listener; imports). ``day`` is the ad account's local day for Meta, the UTC day for streams.
CREATE TABLE campaign_daily_facts (
    campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    day date NOT NULL,
    metric text NOT NULL CHECK (metric IN ('spend_minor', 'impressions', 'clicks', 'streams')),
    value bigint NOT NULL CHECK (value >= 0),
    source text NOT NULL,
    -- The currency of a spend_minor value as the source reported it (NULL for counts). Totals add only
    -- spend in the campaign's currency, so a campaign whose currency changes never mixes units.
    currency text,
    observed_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, day, metric, source)
);
CREATE INDEX campaign_daily_facts_org_day_idx ON campaign_daily_facts (organization_id, day);

-- Alerts the rules fired. ``dedupe_key`` makes "once per campaign and threshold" a constraint.
CREATE TABLE alerts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    campaign_id uuid REFERENCES campaigns (id) ON DELETE CASCADE,
    type text NOT NULL,
    dedupe_key text NOT NULL,
    data jsonb NOT NULL DEFAULT '{}',
    fired_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, dedupe_key)
);
CREATE INDEX alerts_org_fired_idx ON alerts (organization_id, fired_at DESC);
CREATE INDEX alerts_campaign_idx ON alerts (campaign_id, fired_at DESC);

CREATE TABLE notifications (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    alert_id uuid REFERENCES alerts (id) ON DELETE CASCADE,
    type text NOT NULL,
    title text NOT NULL,
    data jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at timestamptz
);
CREATE INDEX notifications_org_created_idx ON notifications (organization_id, created_at DESC);
CREATE INDEX notifications_org_unread_idx ON notifications (organization_id, created_at DESC)
    WHERE read_at IS NULL;

CREATE TABLE webhook_endpoints (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url text NOT NULL,
    description text,
    event_types text[] NOT NULL DEFAULT '{}',  -- empty: every type
    enabled boolean NOT NULL DEFAULT true,
    disabled_reason text,
    secret_sealed text NOT NULL,
    previous_secret_sealed text,  -- still signs until previous_secret_expires_at (rotation overlap)
    previous_secret_expires_at timestamptz,
    max_in_flight integer NOT NULL DEFAULT 4 CHECK (max_in_flight BETWEEN 1 AND 64),
    failing_since timestamptz,  -- the first failure after the last success; 5 days of it disables
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_org_idx ON webhook_endpoints (organization_id, created_at);

-- One row per event: the envelope, as every endpoint receives it.
CREATE TABLE webhook_events (
    id text PRIMARY KEY,  -- evt_…
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    type text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_events_org_created_idx ON webhook_events (organization_id, created_at DESC);

-- One row per (event, endpoint): the durable outbox. Committed before any attempt.
CREATE TABLE webhook_deliveries (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id text NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_until timestamptz,  -- a worker's claim; outlives the request timeout
    claimed_by text,
    last_status_code integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC);
-- The dispatcher's claim walks each enabled endpoint's due deliveries in order (at most its max_in_flight),
-- so one endpoint's backlog never hides another's due rows.
CREATE INDEX webhook_deliveries_endpoint_due_idx ON webhook_deliveries (endpoint_id, next_attempt_at)
    WHERE status = 'pending';

CREATE TABLE webhook_attempts (
    id bigserial PRIMARY KEY,
    delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    duration_ms integer,
    status_code integer,
    error text,
    response_body text  -- cut to 4 KB
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, attempted_at);
