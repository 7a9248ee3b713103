-- The audit log (docs/audit-log.md): every change a person, a rule or the budget guardrail makes to the
-- configuration and state of an organization, written by a row trigger in the same transaction as the change,
-- so no route can forget it. Who is acting arrives in the transaction-local setting ``songtrack.audit`` (JSON,
-- set by engine/store/database.py from engine/audit.py's context); without it the change is the engine's own
-- bookkeeping and nothing is written.

CREATE TABLE audit_log (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- The order of insertion: the rows of one transaction share occurred_at.
    seq bigint GENERATED ALWAYS AS IDENTITY,
    -- NULL when a change belongs to no organization (none does today); an organization's rows go with it.
    organization_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
    occurred_at timestamptz NOT NULL DEFAULT now(),  -- the transaction's time
    actor_type text NOT NULL CHECK (actor_type IN ('user', 'rule', 'system', 'anonymous')),
    -- No foreign keys: the history outlives the user or rule that acted (and a user's own deletion is
    -- recorded in the statement that deletes them).
    actor_user_id uuid,
    actor_rule_id uuid,
    actor_label text NOT NULL DEFAULT '',
    action text NOT NULL,  -- <object>.<created|updated|deleted>
    object_type text NOT NULL,
    object_id text,
    before jsonb,
    after jsonb,
    ip text,
    request_id text,
    source text NOT NULL
);
CREATE INDEX audit_log_org_idx ON audit_log (organization_id, occurred_at DESC, seq DESC);
CREATE INDEX audit_log_occurred_idx ON audit_log (occurred_at);

-- Arguments: the object type, the column holding the object's id, the columns to mask (a changed or present
-- value becomes "***") and the engine-maintained columns to ignore (left out; an UPDATE changing only those, or
-- nothing, writes no row). An organization's deletion, and the rows it takes with it, are not recorded: its log
-- goes with it (docs/privacy.md).
CREATE FUNCTION audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    setting text := current_setting('songtrack.audit', true);
    context jsonb;
    masked text[] := TG_ARGV[2]::text[];
    ignored text[] := TG_ARGV[3]::text[];
    whole jsonb;
    old_row jsonb;
    new_row jsonb;
    changed text[];
    org text;
    name text;
BEGIN
    IF setting IS NULL OR setting = '' THEN
        RETURN NULL;
    END IF;
    context := setting::jsonb;
    IF TG_OP <> 'INSERT' THEN
        whole := to_jsonb(OLD);
        old_row := whole - ignored;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        whole := to_jsonb(NEW);
        new_row := whole - ignored;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        SELECT array_agg(o.key) INTO changed FROM jsonb_each(old_row) o
        WHERE o.value IS DISTINCT FROM new_row -> o.key;
        IF changed IS NULL THEN
            RETURN NULL;
        END IF;
        old_row := (SELECT jsonb_object_agg(key, value) FROM jsonb_each(old_row) WHERE key = ANY (changed));
        new_row := (SELECT jsonb_object_agg(key, value) FROM jsonb_each(new_row) WHERE key = ANY (changed));
    END IF;
    FOREACH name IN ARRAY masked LOOP
        IF old_row -> name IS NOT NULL AND old_row -> name <> 'null' THEN
            old_row := jsonb_set(old_row, ARRAY[name], '"***"');
        END IF;
        IF new_row -> name IS NOT NULL AND new_row -> name <> 'null' THEN
            new_row := jsonb_set(new_row, ARRAY[name], '"***"');
        END IF;
    END LOOP;
    IF TG_TABLE_NAME = 'organizations' THEN
        IF TG_OP = 'DELETE' THEN  -- its log goes with it (the foreign key): nothing may name it afterwards
            RETURN NULL;
        END IF;
        org := whole ->> 'id';
    ELSE
        org := coalesce(whole ->> 'organization_id', context ->> 'organizationId');
        -- A row whose organization is being deleted goes with it (a cascade): the organization's deletion
        -- is the change recorded.
        IF org IS NOT NULL AND NOT EXISTS (SELECT FROM organizations WHERE id = org::uuid) THEN
            RETURN NULL;
        END IF;
    END IF;
    INSERT INTO audit_log (organization_id, actor_type, actor_user_id, actor_rule_id, actor_label, action,
                           object_type, object_id, before, after, ip, request_id, source)
    VALUES (org::uuid, context -> 'actor' ->> 'type', (context -> 'actor' ->> 'userId')::uuid,
            (context -> 'actor' ->> 'ruleId')::uuid, coalesce(context -> 'actor' ->> 'label', ''),
            TG_ARGV[0] || CASE TG_OP WHEN 'INSERT' THEN '.created' WHEN 'UPDATE' THEN '.updated' ELSE '.deleted' END,
            TG_ARGV[0], whole ->> TG_ARGV[1], old_row, new_row,
            context ->> 'ip', context ->> 'requestId', context ->> 'source');
    RETURN NULL;
END
$$;

-- The audited tables: (table, object type, id column, masked columns, ignored columns, events).
-- Sessions: logins, logouts and revocations (using one, a token refresh, only moves last_used_at). Campaigns:
-- the totals and what Meta last reported or accepted are the engine's, not anyone's decision. Imports, exports
-- and sync runs: who asked for one is recorded; their progress is the engine's.
DO $$
DECLARE
    t text[];
BEGIN
    FOREACH t SLICE 1 IN ARRAY ARRAY[
        ['organizations', 'organization', 'id', '{}', '{updated_at}', 'INSERT OR UPDATE OR DELETE'],
        ['users', 'user', 'id', '{password_hash}', '{updated_at}', 'INSERT OR UPDATE OR DELETE'],
        ['sessions', 'session', 'id', '{}', '{last_used_at}', 'INSERT OR UPDATE OR DELETE'],
        ['invitations', 'invitation', 'id', '{token_hash}', '{}', 'INSERT OR UPDATE OR DELETE'],
        ['tracks', 'track', 'id', '{}', '{updated_at}', 'INSERT OR UPDATE OR DELETE'],
        ['audiences', 'audience', 'id', '{}', '{updated_at}', 'INSERT OR UPDATE OR DELETE'],
        ['campaigns', 'campaign', 'id', '{}', '{updated_at,budget_spent,impressions,clicks,streams,'
            'meta_effective_status,meta_budget_minor,meta_budget_currency,meta_synced_at,meta_sync_error}',
            'INSERT OR UPDATE OR DELETE'],
        ['campaign_goals', 'campaign_goal', 'campaign_id', '{}', '{}', 'INSERT OR UPDATE OR DELETE'],
        ['campaign_listen_links', 'listen_link', 'campaign_id', '{}', '{}', 'INSERT OR UPDATE OR DELETE'],
        ['campaign_listeners', 'campaign_listener', 'listener_id', '{}', '{}', 'INSERT OR UPDATE OR DELETE'],
        ['rules', 'rule', 'id', '{}', '{updated_at,last_evaluated_at,last_triggered_at,trigger_count}',
            'INSERT OR UPDATE OR DELETE'],
        ['webhook_endpoints', 'webhook_endpoint', 'id', '{secret_sealed,previous_secret_sealed}',
            '{updated_at,failing_since}', 'INSERT OR UPDATE OR DELETE'],
        ['integrations', 'integration', 'id', '{access_token_sealed,refresh_token_sealed}',
            '{updated_at,token_expires_at}', 'INSERT OR UPDATE OR DELETE'],
        ['meta_ad_accounts', 'meta_ad_account', 'account_id', '{}', '{updated_at}', 'INSERT OR UPDATE OR DELETE'],
        ['imports', 'import', 'id', '{}', '{row_errors}', 'INSERT OR DELETE'],
        ['report_exports', 'report_export', 'id', '{}', '{content}', 'INSERT OR DELETE'],
        ['sync_runs', 'sync_run', 'id', '{}', '{}', 'INSERT OR DELETE']
    ] LOOP
        EXECUTE format('CREATE TRIGGER audit AFTER %s ON %I FOR EACH ROW EXECUTE FUNCTION audit_change(%L, %L, %L, %L)',
                       t[6], t[1], t[2], t[3], t[4], t[5]);
    END LOOP;
END
$$;
