// The campaign page's chart: spend and streams per day on one uPlot chart (two scales, two axes), the
// baseline's daily mean as a dashed line and the campaign's window shaded. Its data is the JSON the page
// embeds in #campaign-chart-data; the table under the chart holds the same figures.
(function () {
  "use strict";
  var source = document.getElementById("campaign-chart-data");
  var target = document.getElementById("campaign-chart");
  if (!source || !target || !window.uPlot) return;
  var d = JSON.parse(source.textContent);
  var DAY = 86400;

  function shadeWindow(u) {
    var left = Math.max(u.bbox.left, u.valToPos(d.window[0], "x", true));
    var right = Math.min(u.bbox.left + u.bbox.width, u.valToPos(d.window[1] + DAY, "x", true));
    if (right <= left) return;
    u.ctx.save();
    u.ctx.fillStyle = "rgba(11, 87, 208, 0.08)";
    u.ctx.fillRect(left, u.bbox.top, right - left, u.bbox.height);
    u.ctx.restore();
  }

  function width() { return Math.max(280, target.clientWidth); }

  var chart = new window.uPlot({
    width: width(), height: 320,
    // Each day is the slot from its midnight to the next (UTC), so the last day and the window show.
    scales: { x: { time: true, range: function () { return [d.days[0], d.days[d.days.length - 1] + DAY]; } },
              spend: {}, streams: {} },
    series: [
      {},
      { label: "Spend (" + d.currency + ")", scale: "spend", stroke: "#0b57d0", width: 2 },
      { label: "Streams", scale: "streams", stroke: "#1a7f37", width: 2 },
      { label: "Baseline daily mean", scale: "streams", stroke: "#4a5360", dash: [6, 4], width: 1 },
    ],
    axes: [{ incrs: [DAY, 7 * DAY, 28 * DAY, 365 * DAY] }, { scale: "spend", label: "Spend" }, { scale: "streams", side: 1, label: "Streams", grid: { show: false } }],
    hooks: { drawClear: [shadeWindow] },
  }, [d.days, d.spend, d.streams, d.days.map(function () { return d.baseline; })], target);

  window.addEventListener("resize", function () { chart.setSize({ width: width(), height: 320 }); });
})();
