-- The budget guardrail (engine/guardrail.py): on for every campaign unless a member turns it off, at the
-- [rules] default percent unless the campaign has its own; and why a paused campaign is paused (a member or
-- the guardrail, with the figures it saw), kept while it stays paused.
ALTER TABLE campaigns
    ADD COLUMN guardrail_enabled boolean NOT NULL DEFAULT true,
    ADD COLUMN guardrail_percent smallint CHECK (guardrail_percent BETWEEN 1 AND 1000),
    ADD COLUMN paused_reason jsonb;
