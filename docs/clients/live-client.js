/*
 * A SongTrackPro live stream client for browsers: watches tracks over /v1/streaming/ws and never misses
 * an event. docs/live-streams.md describes the protocol it speaks.
 *
 * In a page:
 *
 *   <script src="live-client.js"></script>
 *   <script>
 *     const client = new LiveClient({
 *       api: "https://api.example.com", token: accessToken, refreshToken,   // or email + password
 *       tracks: ["0b9f…", "5c21…"],
 *       onStream: (e) => console.log(e.trackId, e.seq, e.country),          // every event, once, in order
 *       onCounts: (c) => render(c),                                          // the last hour, by country
 *       onReset: (trackId) => clearChart(trackId),                           // a resume was not possible
 *     });
 *     client.start();
 *   </script>
 *
 * From a terminal (Node 20 needs the flag; Node 22 and later have WebSocket built in):
 *
 *   node --experimental-websocket live-client.js --api http://127.0.0.1:3000 --token … --track 0b9f…
 *
 * It prints one JSON line per stream event on stdout, and counts snapshots and news on stderr.
 */
"use strict";

const BACKOFF_FIRST = 500; // ms before the first reconnection attempt, doubling up to BACKOFF_MAX
const BACKOFF_MAX = 20000;
const BAD_FIRST_MESSAGE = 4400; // our bug: reconnecting would not help
const UNAUTHORIZED = 4401; // bad or expired token: get a fresh one first

class LiveClient {
  /**
   * @param {object} options
   * @param {string} options.api            the API's base URL
   * @param {string[]} options.tracks       track ids to watch
   * @param {string} [options.token]        an access token; without refreshToken or email/password it
   *                                        cannot be renewed, and the client stops when it expires
   * @param {string} [options.refreshToken] renews the access token (POST /v1/auth/refresh)
   * @param {number} [options.expiresIn]    seconds the given token has left (default: 15 minutes)
   * @param {string} [options.email]        log in with these instead (POST /v1/auth/login)
   * @param {string} [options.password]
   * @param {(event: {trackId: string, seq: number, platform: string, country: string, timestamp: string}) => void} [options.onStream]
   * @param {(counts: {trackId: string, seq: number, window: string, streams: number, countries: object}) => void} [options.onCounts]
   * @param {(trackId: string, seq: number) => void} [options.onReset] events were missed for good: rebuild
   *                                        from the counts snapshot that follows
   * @param {(message: string) => void} [options.onLog]
   * @param {(reason: string) => void} [options.onStop] reconnecting cannot help; the reason says what to fix
   */
  constructor(options) {
    this.options = options;
    this.api = options.api.replace(/\/+$/, "");
    this.url = this.api.replace(/^http/, "ws") + "/v1/streaming/ws";
    this.accessToken = options.token || null;
    this.refreshToken = options.refreshToken || null;
    this.tracks = new Map(options.tracks.map((id) => [id, { id, epoch: null, seq: null }]));
    this.silenceLimit = 35000; // replaced by what the server announces in `authenticated`
    this.backoff = BACKOFF_FIRST;
    this.ws = null; // the current connection; events from an abandoned one are ignored
    this.authenticated = false;
    this.sentToken = null; // the token the current connection authenticated with
    this.renewing = null; // the renewal under way, if any
    this.previousCode = null; // how the previous connection ended
    this.stopped = false;
    this.timers = { silence: null, refresh: null, reconnect: null };
    const noop = () => {};
    this.on = { stream: options.onStream || noop, counts: options.onCounts || noop,
                reset: options.onReset || noop, log: options.onLog || noop, stop: options.onStop || noop };
  }

  async start() {
    try {
      if (!this.accessToken) await this.login();
      else if (this.refreshToken) this.scheduleRefresh(this.options.expiresIn || 900);
    } catch (err) {
      return this.stop(String(err.message || err));
    }
    this.connect();
  }

  stop(reason) {
    this.stopped = true;
    Object.values(this.timers).forEach(clearTimeout);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    this.on.stop(reason);
  }

  // ---- tokens ----------------------------------------------------------------------------------------

  async login() {
    const answer = await this.post("/v1/auth/login", { email: this.options.email, password: this.options.password });
    if (!answer.ok) throw new Error(`login refused (${answer.status}): ${await answer.text()}`);
    this.takeTokens((await answer.json()).tokens);
  }

  /**
   * A fresh access token: refresh, or log in again if the refresh token no longer works. One at a time:
   * a refresh token works once, and presenting it twice ends the whole session.
   */
  renew() {
    if (!this.renewing) this.renewing = this.renewNow().finally(() => { this.renewing = null; });
    return this.renewing;
  }

  async renewNow() {
    if (this.refreshToken) {
      const answer = await this.post("/v1/auth/refresh", { refreshToken: this.refreshToken });
      if (answer.ok) return this.takeTokens((await answer.json()).tokens);
      this.on.log(`refresh refused (${answer.status}); logging in again`);
      this.refreshToken = null;
    }
    if (!this.options.password) {
      throw new Error("the access token expired or was refused (4401), and there is no way to get a new one");
    }
    await this.login();
  }

  takeTokens(tokens) {
    this.accessToken = tokens.accessToken;
    this.refreshToken = tokens.refreshToken;
    this.scheduleRefresh(tokens.expiresIn);
    this.on.log(`new access token, valid for ${tokens.expiresIn} s`);
    // Send the new token on the open connection before the old one expires there.
    if (this.ws && this.authenticated) this.send({ type: "auth", token: this.accessToken });
  }

  /** Renew at 3/4 of the token's lifetime; a failed attempt is retried in 5 s. */
  scheduleRefresh(seconds) {
    clearTimeout(this.timers.refresh);
    this.timers.refresh = setTimeout(async () => {
      try {
        await this.renew();
      } catch (err) {
        if (/no way to get a new one/.test(err.message)) return this.stop(err.message);
        this.on.log(`could not refresh the access token (${err.message}); retrying in 5 s`);
        this.scheduleRefresh(5 / 0.75);
      }
    }, seconds * 750);
  }

  post(path, body) {
    // A timeout, because a request on a dead link may otherwise hang for minutes, and reconnecting after
    // a 4401 waits for the renewal.
    return fetch(this.api + path, { method: "POST", headers: { "Content-Type": "application/json" },
                                    body: JSON.stringify(body), signal: AbortSignal.timeout(10000) });
  }

  // ---- the connection --------------------------------------------------------------------------------

  connect() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    this.authenticated = false;
    this.expectWithin(10000, ws, "no answer to the handshake within 10 s");
    ws.onopen = () => {
      this.sentToken = this.accessToken;
      this.send({ type: "auth", token: this.accessToken, batch: true });
      this.expectWithin(this.silenceLimit, ws, "nothing heard");
    };
    ws.onmessage = (message) => {
      if (ws !== this.ws) return;
      this.expectWithin(this.silenceLimit, ws, "nothing heard");
      // We ask for batches: each WebSocket message holds one or more messages, a line each.
      for (const line of message.data.split("\n")) this.handle(JSON.parse(line));
    };
    // A browser does not tell why a handshake failed: a refused Origin (HTTP 403) looks like a network
    // error (close 1006 before open) here; the browser's console shows the 403. Node 20's WebSocket may
    // fire only `error`, or nothing at all, for a failed handshake: hence onerror and the timer above.
    ws.onerror = () => {
      if (ws.readyState !== WebSocket.OPEN) this.finish(ws, null, "could not connect");
    };
    ws.onclose = (event) => this.finish(ws, event.code, event.reason);
  }

  /**
   * Nothing at all (not even a ping) for `ms`: the link is dead, even if TCP has not noticed (a laptop
   * lid, a NAT that forgot us). Every message re-arms it.
   */
  expectWithin(ms, ws, reason) {
    clearTimeout(this.timers.silence);
    this.timers.silence = setTimeout(() => this.finish(ws, null, `${reason} (${ms / 1000} s)`), ms);
  }

  /** The end of `ws`, whichever way it ended; once per connection. */
  finish(ws, code, reason) {
    if (ws !== this.ws) return; // handled already, or abandoned
    this.ws = null; // a dead link's close event may take long to come: we do not wait for it
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) {
      try { ws.close(1000); } catch { /* already closing */ }
    }
    this.closed(code, reason);
  }

  async closed(code, reason) {
    clearTimeout(this.timers.silence);
    if (this.stopped) return;
    if (code === BAD_FIRST_MESSAGE) return this.stop(`the server refused our first message (4400 ${reason}): fix the client`);
    if (code === UNAUTHORIZED) {
      this.on.log(`closed 4401 (${reason}): renewing the access token`);
      try {
        await this.renew();
        if (this.previousCode !== UNAUTHORIZED) this.backoff = BACKOFF_FIRST; // fixed: come back soon (never loop)
      } catch (err) {
        if (/no way to get a new one/.test(err.message)) return this.stop(err.message);
        this.on.log(`could not renew the access token (${err.message}); trying again after the next wait`);
      }
    }
    this.previousCode = code;
    // Jitter: clients cut off together do not all come back at the same moment.
    const wait = this.backoff / 2 + Math.random() * this.backoff / 2;
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX);
    this.on.log(`disconnected (${code ?? "no close frame"}: ${reason}); reconnecting in ${(wait / 1000).toFixed(1)} s`);
    this.timers.reconnect = setTimeout(() => this.connect(), wait);
  }

  send(message) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(message));
  }

  // ---- messages --------------------------------------------------------------------------------------

  handle(message) {
    const data = message.data || {};
    switch (message.event) {
      case "ping":
        return this.send({ type: "pong" });
      case "authenticated": {
        // Silence longer than a ping interval and 10 s (or two intervals, if shorter) means a dead link.
        const interval = data.pingInterval * 1000;
        this.silenceLimit = interval + Math.min(10000, interval);
        this.expectWithin(this.silenceLimit, this.ws, "nothing heard");
        if (this.authenticated) return; // the reply to a refresh
        this.authenticated = true;
        this.backoff = BACKOFF_FIRST; // it works: the next failure starts over
        if (this.sentToken !== this.accessToken) this.send({ type: "auth", token: this.accessToken }); // renewed meanwhile
        for (const track of this.tracks.values()) {
          const subscribe = { type: "subscribe", trackId: track.id };
          if (track.epoch !== null) Object.assign(subscribe, { epoch: track.epoch, after: track.seq });
          this.send(subscribe);
        }
        return;
      }
      case "subscribed":
        return this.subscribed(data);
      case "stream":
        return this.stream(message.seq, data);
      case "counts":
        return this.on.counts({ seq: message.seq, ...data });
      case "error":
        this.on.log(`error ${data.code}: ${data.message} ${data.trackId || ""}`);
        if (data.code === "NOT_FOUND") {
          this.tracks.delete(data.trackId);
          if (this.tracks.size === 0) this.stop("none of the tracks exists in your organization");
        }
        return;
      default:
        return; // pong, unsubscribed, and whatever a newer server sends
    }
  }

  subscribed(data) {
    const track = this.tracks.get(data.trackId);
    if (!track) return;
    if (data.recovered) return this.on.log(`resumed ${track.id} after seq ${track.seq}`);
    if (track.epoch !== null) {
      // Too far behind (or the track's history was reset): the missed events are gone.
      this.on.log(`could not resume ${track.id} after seq ${track.seq}: continuing from seq ${data.seq};` +
                  " the events in between are not replayed");
      this.on.reset(track.id, data.seq);
    } else {
      this.on.log(`subscribed to ${track.id} at seq ${data.seq}`);
    }
    track.epoch = data.epoch;
    track.seq = data.seq;
  }

  stream(seq, data) {
    const track = this.tracks.get(data.trackId);
    if (!track || (track.seq !== null && seq <= track.seq)) return; // not ours any more, or seen already
    if (track.seq !== null && seq !== track.seq + 1) this.on.log(`gap in ${track.id}: seq ${track.seq} then ${seq}`);
    track.seq = seq;
    this.on.stream({ trackId: track.id, seq, platform: data.platform, country: data.country,
                     timestamp: data.timestamp });
  }
}

// ---- the command line (Node only; a browser skips it) ------------------------------------------------

function main(argv) {
  const options = { api: "http://127.0.0.1:3000", tracks: [] };
  for (let i = 0; i < argv.length; i += 2) {
    const [name, value] = [argv[i], argv[i + 1]];
    if (name === "--track") options.tracks.push(value);
    else if (["--api", "--token", "--email", "--password"].includes(name)) options[name.slice(2)] = value;
    else throw new Error(`unknown option ${name}`);
  }
  if (!options.tracks.length || !(options.token || (options.email && options.password))) {
    console.error("usage: live-client.js [--api URL] (--token T | --email E --password P) --track ID [--track ID …]");
    process.exit(2);
  }
  new LiveClient({
    ...options,
    onStream: (event) => console.log(JSON.stringify(event)),
    onCounts: (c) => console.error(`counts ${c.trackId}: ${c.streams} streams in the last ${c.window} (` +
      Object.entries(c.countries).slice(0, 5).map(([country, n]) => `${country} ${n}`).join(", ") + ")"),
    onLog: (message) => console.error(message),
    onStop: (reason) => { console.error(`stopped: ${reason}`); process.exit(1); },
  }).start();
}

if (typeof module !== "undefined" && module.exports) module.exports = { LiveClient };
else globalThis.LiveClient = LiveClient;
if (typeof require !== "undefined" && typeof module !== "undefined" && require.main === module) {
  main(process.argv.slice(2));
}
