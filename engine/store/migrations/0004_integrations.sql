-- Connected provider accounts (Meta, Spotify) per organization, and the pending OAuth logins.
-- Tokens are stored only sealed (AES-256-GCM, engine/secrets_box.py), bound to their row by the
-- associated data; OAuth states only as SHA-256 digests, so a database dump hands out neither.

CREATE TABLE integrations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    provider text NOT NULL CHECK (provider IN ('meta', 'spotify')),
    external_account_id text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    status text NOT NULL CHECK (status IN ('connected', 'needs_reauth', 'disconnected')),
    access_token_sealed text NOT NULL,
    refresh_token_sealed text,
    token_expires_at timestamptz,
    scopes text[] NOT NULL DEFAULT '{}',
    connected_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, provider, external_account_id)
);

-- One row per login started; consumed once by the provider's redirect back to us.
CREATE TABLE oauth_states (
    state_hash bytea PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider text NOT NULL CHECK (provider IN ('meta', 'spotify')),
    code_verifier_sealed text,
    redirect_uri text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX oauth_states_expires_idx ON oauth_states (expires_at);
