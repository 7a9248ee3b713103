-- Each organization's number of campaigns, kept by the campaigns' own triggers, so a page of the list reads
-- its ``total`` from one row instead of counting every campaign of the organization on every request.
-- Statement-level triggers with transition tables: a bulk insert or delete (an import, an organization's
-- deletion, which cascades) updates each organization's row once, not once per campaign. A campaign never
-- moves to another organization (no statement sets campaigns.organization_id), so insert and delete are
-- all there is to follow. Concurrent inserts for one organization queue on its row until they commit,
-- which is what keeps the count exact; campaigns are created by people, not in a hot loop.
CREATE TABLE campaign_counts (
    organization_id uuid PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    campaigns bigint NOT NULL CHECK (campaigns >= 0)
);

INSERT INTO campaign_counts (organization_id, campaigns)
SELECT organization_id, count(*) FROM campaigns GROUP BY organization_id;

CREATE FUNCTION campaign_counts_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO campaign_counts (organization_id, campaigns)
    SELECT organization_id, count(*) FROM added GROUP BY organization_id
    ON CONFLICT (organization_id) DO UPDATE SET campaigns = campaign_counts.campaigns + EXCLUDED.campaigns;
    RETURN NULL;
END $$;

CREATE FUNCTION campaign_counts_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- An organization being deleted may have lost its row already (ON DELETE CASCADE): nothing to update.
    UPDATE campaign_counts c SET campaigns = c.campaigns - r.n
    FROM (SELECT organization_id, count(*) AS n FROM removed GROUP BY organization_id) r
    WHERE c.organization_id = r.organization_id;
    RETURN NULL;
END $$;

CREATE TRIGGER campaign_counts_added AFTER INSERT ON campaigns
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION campaign_counts_added();
CREATE TRIGGER campaign_counts_removed AFTER DELETE ON campaigns
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION campaign_counts_removed();
