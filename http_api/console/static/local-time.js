// Times in the reader's own timezone. The server writes every time as UTC, said so, in a
// <time datetime="…" data-local> element (what a page without scripts shows); this rewrites each one in the
// browser's timezone with the zone's name ("7 Dec 2026, 14:03 GMT+1") and keeps the UTC text as its
// tooltip. Parts of pages that htmx swaps in are rewritten too.
(function () {
  "use strict";
  var minutes = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
  var seconds = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" });

  function localize(root) {
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      var at = new Date(el.getAttribute("datetime"));
      if (isNaN(at.getTime())) return;
      el.title = el.textContent;
      el.textContent = (el.getAttribute("data-local") === "seconds" ? seconds : minutes).format(at);
      el.removeAttribute("data-local");
    });
  }

  localize(document);
  document.addEventListener("htmx:afterSettle", function (event) { localize(event.target); });
})();
