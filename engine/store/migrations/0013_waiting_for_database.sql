-- An actor that finds the database unavailable waits for it (engine/supervisor.py) instead of crashing;
-- the status publisher writes that state once the database is back.

ALTER TABLE engine_actors DROP CONSTRAINT engine_actors_state_check;
ALTER TABLE engine_actors ADD CONSTRAINT engine_actors_state_check
    CHECK (state IN ('starting', 'running', 'backing_off', 'waiting_for_database', 'failed', 'stopped'));
