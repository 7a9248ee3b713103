-- Rules that act (docs/rules.md): the organization's rules, their history (every firing, and every action a
-- member took by hand on a campaign), each rule's cooldown per campaign, and the queue of writes to Meta
-- that actions call for, which the Meta account actor drains.

CREATE TABLE rules (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name text NOT NULL,
    description text,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    -- A dry-run rule is evaluated and its firings recorded, but it acts on nothing.
    dry_run boolean NOT NULL DEFAULT false,
    -- condition (or conditions with match), action and appliesTo, as the API spells them.
    spec jsonb NOT NULL,
    cooldown_hours integer NOT NULL CHECK (cooldown_hours BETWEEN 0 AND 8760),
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    last_evaluated_at timestamptz,
    last_triggered_at timestamptz,
    trigger_count integer NOT NULL DEFAULT 0
);
-- Rules are evaluated, and act, in the order they were created (then by id): the order of this index.
CREATE INDEX rules_organization_idx ON rules (organization_id, created_at, id);

-- When each rule last fired on each campaign: its cooldown is per (rule, campaign).
CREATE TABLE rule_cooldowns (
    rule_id uuid NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
    campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    fired_at timestamptz NOT NULL,
    PRIMARY KEY (rule_id, campaign_id)
);

-- The history: one row per firing of a rule on a campaign, and per manual action of a member (rule_id NULL,
-- manual true). ``inputs`` are the figures the rule saw; ``before``/``after`` the campaign's values the
-- action changed; ``meta`` what Meta answered (pending until the Meta account actor writes it).
CREATE TABLE rule_runs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- The order of insertion: two runs of one instant (two rules in one batch) list in the order they acted.
    seq bigint GENERATED ALWAYS AS IDENTITY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    rule_id uuid REFERENCES rules (id) ON DELETE CASCADE,
    rule_name text,
    campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    manual boolean NOT NULL DEFAULT false,
    user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    dry_run boolean NOT NULL DEFAULT false,
    at timestamptz NOT NULL,
    inputs jsonb NOT NULL DEFAULT '{}',
    action jsonb NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('applied', 'unchanged', 'refused', 'dry_run')),
    detail text,
    before jsonb NOT NULL DEFAULT '{}',
    after jsonb NOT NULL DEFAULT '{}',
    meta jsonb
);
CREATE INDEX rule_runs_rule_idx ON rule_runs (organization_id, rule_id, at DESC, seq DESC);
CREATE INDEX rule_runs_campaign_idx ON rule_runs (organization_id, campaign_id, at DESC, seq DESC);

-- Writes to a linked Meta campaign that an action (a rule's, or the guardrail's) calls for: idempotent "set
-- to X" values, so applying one twice is harmless. At most one pending write per campaign and field: a
-- newer one supersedes it. The Meta account actor of the campaign's integration applies them in id order.
CREATE TABLE meta_writes (
    id bigserial PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    field text NOT NULL CHECK (field IN ('status', 'budget')),
    -- {"status": "ACTIVE"|"PAUSED"} or {"budget": "80.00", "currency": "USD"} (our budget, in major units)
    value jsonb NOT NULL,
    cause jsonb NOT NULL,
    run_id uuid REFERENCES rule_runs (id) ON DELETE SET NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'applied', 'refused', 'superseded')),
    attempts integer NOT NULL DEFAULT 0,
    error jsonb,
    created_at timestamptz NOT NULL,
    done_at timestamptz
);
CREATE UNIQUE INDEX meta_writes_pending_idx ON meta_writes (campaign_id, field) WHERE state = 'pending';
CREATE INDEX meta_writes_org_pending_idx ON meta_writes (organization_id, id) WHERE state = 'pending';
