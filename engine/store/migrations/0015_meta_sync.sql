-- What a campaign linked to Meta last pushed there: the lifetime budget Meta accepted from us (minor units of
-- the ad account's currency) and when, and the last push Meta (or we) refused, until the next success.
ALTER TABLE campaigns
    ADD COLUMN meta_budget_minor bigint CHECK (meta_budget_minor > 0),
    ADD COLUMN meta_budget_currency text,
    ADD COLUMN meta_synced_at timestamptz,
    ADD COLUMN meta_sync_error jsonb;
