-- The claims a dispatcher holds, by worker: an engine process's dispatcher claims under its node id, and a
-- process found dead (its heartbeat older than the lease TTL) has its claims taken back at once
-- (webhook_deliveries.take_back_claims). Only deliveries in flight are claimed, so the index stays small.
CREATE INDEX webhook_deliveries_claimed_by_idx ON webhook_deliveries (claimed_by) WHERE claimed_by IS NOT NULL;
