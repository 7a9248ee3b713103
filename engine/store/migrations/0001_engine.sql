-- The engine's visible status: live engine processes (nodes) and the state of each actor they supervise.
-- The API reads these rows, so every API worker and engine process sees the same picture.

CREATE TABLE engine_nodes (
    id uuid PRIMARY KEY,
    hostname text NOT NULL,
    pid integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    stopped_at timestamptz
);

CREATE TABLE engine_actors (
    node_id uuid NOT NULL REFERENCES engine_nodes(id) ON DELETE CASCADE,
    name text NOT NULL,
    state text NOT NULL CHECK (state IN ('starting', 'running', 'backing_off', 'failed', 'stopped')),
    restarts integer NOT NULL DEFAULT 0,
    last_error text,
    next_restart_at timestamptz,
    since timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node_id, name)
);
