-- The pixel a Meta integration's conversion events go to when a request names none (PUT /v1/meta/pixels/default).
ALTER TABLE integrations ADD COLUMN default_pixel_id text CHECK (default_pixel_id ~ '^[0-9]{1,30}$');
