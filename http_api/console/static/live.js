// The console's live streams: watches the tracks an element names in data-live-tracks over /app/live (the
// live WebSocket of docs/live-streams.md, signed in by the page's session cookie, so no token is ever in
// the page) and shows them in the elements inside it:
//   [data-live="state"]   the connection's state, in words
//   [data-live="hour"]    streams in the last hour, all its tracks together (the server's counts)
//   [data-live="minute"]  the mean a minute over that hour
//   [data-live="latest"]  the latest stream: when, where, on which platform
//   [data-live="chart"]   streams per minute over the last 30 minutes of stream time (uPlot)
// Like docs/clients/live-client.js it resumes each track after a reconnect (epoch + the last seq seen),
// ignores a seq it has handled, and starts the chart again when the server says a resume is not possible.
(function () {
  "use strict";
  var root = document.querySelector("[data-live-tracks]");
  if (!root || !window.WebSocket) return;
  var ids = JSON.parse(root.getAttribute("data-live-tracks"));
  if (!ids.length) return;

  var BACKOFF_FIRST = 500, BACKOFF_MAX = 20000, MINUTE = 60, SHOWN_MINUTES = 30;
  var SIGNED_OUT = 4401, BAD_FIRST_MESSAGE = 4400;
  var tracks = {};
  ids.forEach(function (id) { tracks[id] = { epoch: null, seq: null, hour: 0 }; });
  var perMinute = {}; // minute (Unix seconds) -> streams, by when they happened
  var newest = 0; // the latest stream's time (Unix seconds): the chart ends there
  var backoff = BACKOFF_FIRST, silence = null, ws = null, chart = null;

  function part(name) { return root.querySelector('[data-live="' + name + '"]'); }
  function show(name, text) { var el = part(name); if (el) el.textContent = text; }

  function connect() {
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/app/live";
    var socket = new WebSocket(url);
    ws = socket;
    show("state", "Connecting…");
    socket.onmessage = function (message) {
      if (socket !== ws) return;
      String(message.data).split("\n").forEach(function (line) { handle(socket, JSON.parse(line)); });
    };
    socket.onclose = function (closed) {
      if (socket !== ws) return;
      clearTimeout(silence);
      ws = null;
      if (closed.code === SIGNED_OUT) return show("state", "Your session has ended: sign in again to watch.");
      if (closed.code === BAD_FIRST_MESSAGE) return show("state", "Live updates stopped: " + closed.reason);
      show("state", "Reconnecting…");
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, BACKOFF_MAX);
    };
  }

  function send(socket, message) { socket.send(JSON.stringify(message)); }

  function handle(socket, m) {
    if (m.event === "authenticated") {
      watchSilence(socket, (m.data.pingInterval + Math.min(10, m.data.pingInterval)) * 1000);
      ids.forEach(function (id) {
        var t = tracks[id], message = { type: "subscribe", trackId: id };
        if (t.epoch !== null && t.seq !== null) { message.epoch = t.epoch; message.after = t.seq; }
        send(socket, message);
      });
      return;
    }
    watchSilence(socket);
    if (m.event === "ping") return send(socket, { type: "pong" });
    if (m.event === "subscribed") return subscribed(m.data);
    if (m.event === "stream") return stream(m.seq, m.data);
    if (m.event === "counts") return counts(m.data);
    if (m.event === "error") show("state", "Live: " + m.data.message);
  }

  var silenceLimit = 35000;
  function watchSilence(socket, limit) {
    if (limit) silenceLimit = limit;
    clearTimeout(silence);
    silence = setTimeout(function () { socket.close(); }, silenceLimit); // a dead link: reconnect
  }

  function subscribed(data) {
    var t = tracks[data.trackId];
    if (!t) return;
    if (t.epoch !== null && !data.recovered) { perMinute = {}; newest = 0; draw(); } // missed for good
    t.epoch = data.epoch;
    if (!data.recovered) t.seq = data.seq;
    backoff = BACKOFF_FIRST;
    show("state", "Live: connected.");
    draw();
  }

  function stream(seq, data) {
    var t = tracks[data.trackId];
    if (!t || (t.seq !== null && seq <= t.seq)) return;
    t.seq = seq;
    var at = Date.parse(data.timestamp) / 1000;
    var minute = Math.floor(at / MINUTE) * MINUTE;
    perMinute[minute] = (perMinute[minute] || 0) + 1;
    newest = Math.max(newest, at);
    show("latest", new Date(at * 1000).toLocaleTimeString() + ", " + data.country + ", " + data.platform);
    draw();
  }

  function counts(data) {
    var t = tracks[data.trackId];
    if (!t) return;
    t.hour = data.streams;
    var hour = ids.reduce(function (sum, id) { return sum + tracks[id].hour; }, 0);
    show("hour", hour.toLocaleString());
    show("minute", (hour / 60).toLocaleString(undefined, { maximumFractionDigits: 1 }));
  }

  var drawing = false;
  function draw() { // at most once a frame, however fast events come
    var target = part("chart");
    if (!target || !window.uPlot || drawing) return;
    drawing = true;
    requestAnimationFrame(function () {
      drawing = false;
      // Until a stream comes, the last 30 minutes of the browser's clock: an empty chart, not none.
      var end = newest || Date.now() / 1000;
      var last = Math.floor(end / MINUTE) * MINUTE, xs = [], ys = [];
      for (var i = SHOWN_MINUTES - 1; i >= 0; i--) {
        xs.push(last - i * MINUTE);
        ys.push(perMinute[last - i * MINUTE] || 0);
      }
      Object.keys(perMinute).forEach(function (k) { if (k < last - SHOWN_MINUTES * MINUTE) delete perMinute[k]; });
      if (!chart) {
        chart = new window.uPlot({
          width: Math.max(280, target.clientWidth), height: 200,
          series: [{}, { label: "Streams a minute", stroke: "#1a7f37", fill: "rgba(26, 127, 55, 0.12)", width: 2 }],
          axes: [{}, { label: "Streams" }],
        }, [xs, ys], target);
        window.addEventListener("resize", function () {
          chart.setSize({ width: Math.max(280, target.clientWidth), height: 200 });
        });
      } else {
        chart.setData([xs, ys]);
      }
    });
  }

  connect();
})();
