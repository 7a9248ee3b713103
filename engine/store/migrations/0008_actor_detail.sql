-- What each actor says about its own work (an account poller's state, next poll, last success, last error,
-- consecutive failures…), published with its supervision status so every process can show it.
-- A flat JSON object of scalars, or NULL for actors that say nothing.

ALTER TABLE engine_actors
    ADD COLUMN detail jsonb CHECK (detail IS NULL OR jsonb_typeof(detail) = 'object');
