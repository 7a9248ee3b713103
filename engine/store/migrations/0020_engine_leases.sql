-- Leases: which engine process runs each account actor and each singleton (docs/scaling.md).
-- A row per lease, named as its actor is ("meta:<integration id>", "singleton:housekeeper"). token is the
-- fencing token: it grows on every claim, and a write made under a lease carries the token it was claimed
-- with, so the store refuses a process that lost the lease (it stalled past expires_at and another claimed).
-- expires_at is by the database's clock; node_id NULL means released.
CREATE TABLE engine_leases (
    name text PRIMARY KEY,
    node_id uuid,
    token bigint NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL DEFAULT '-infinity',
    claimed_at timestamptz
);

CREATE INDEX engine_leases_node ON engine_leases (node_id) WHERE node_id IS NOT NULL;
