// A label's first steps through the types openapi-typescript generated from /openapi.json (schema.d.ts):
// log in, add a track, create a campaign for it, read the campaign's analytics; prints what it got as JSON.
// tests/http_api/test_generated_ts_client.py type-checks it (strict) and runs it against the API.
import type { operations, paths } from "./schema";
import { config } from "./config";

type Request<O extends keyof operations> = operations[O] extends {
    requestBody: { content: { "application/json": infer Body } };
} ? Body : never;
type Answer<O extends keyof operations, Status extends keyof operations[O]["responses"]> =
    operations[O]["responses"][Status] extends { content: { "application/json": infer Body } } ? Body : never;

async function call<T>(path: keyof paths, init: { method: "GET" | "POST"; token?: string; body?: unknown },
                       params: Record<string, string> = {}): Promise<T> {
    const url = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ""));
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (init.token !== undefined) headers["Authorization"] = `Bearer ${init.token}`;
    const body = init.body === undefined ? null : JSON.stringify(init.body);
    const response = await fetch(config.baseUrl + url, { method: init.method, headers, body });
    if (!response.ok) throw new Error(`${init.method} ${url}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
}

async function main(): Promise<void> {
    const login: Request<"post_auth_login"> = { email: config.email, password: config.password };
    const session = await call<Answer<"post_auth_login", 200>>("/v1/auth/login", { method: "POST", body: login });
    const token: string = session.tokens.accessToken;

    const song: Request<"post_tracks"> = { title: "Typed Song", artist: "TS" };
    const track = await call<Answer<"post_tracks", 201>>("/v1/tracks", { method: "POST", token, body: song });

    const launch: Request<"post_campaigns"> = {
        name: "TS launch", budget: 250, currency: "USD", trackId: track.id,
        startDate: "2031-03-01T00:00:00Z", endDate: "2031-03-31T00:00:00Z",
    };
    const campaign = await call<Answer<"post_campaigns", 201>>("/v1/campaigns", { method: "POST", token, body: launch });
    const status: "draft" | "active" | "paused" | "completed" | "archived" = campaign.status;

    const path: operations["get_analytics_campaigns_by_campaign_id"]["parameters"]["path"] = { campaign_id: campaign.id };
    const analytics = await call<Answer<"get_analytics_campaigns_by_campaign_id", 200>>(
        "/v1/analytics/campaigns/{campaign_id}", { method: "GET", token }, path);
    const confidence: string = analytics.attribution.confidence;

    console.log(JSON.stringify({
        campaign: { id: campaign.id, name: campaign.name, status },
        analytics: { campaignId: analytics.campaignId, attribution: { confidence } },
    }));
}

main().catch((error: unknown) => {
    console.error(error);
    throw error;
});
