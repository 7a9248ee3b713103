-- The fingerprints of the keys in the first process's data directory (keys/): every process that shares this
-- database must hold the same keys (JWTs one signs, another verifies; tokens one seals, another opens), so
-- each compares its own with these at start and refuses to start when one differs. A fingerprint is an
-- HMAC-SHA256 of a fixed label under the key (config/keys.py): it tells keys apart and reveals nothing of them.
CREATE TABLE key_fingerprints (
    key_file text PRIMARY KEY,
    fingerprint text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
