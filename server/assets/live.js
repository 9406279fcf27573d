// 我的工作台's live list, loaded as a file (the Content-Security-Policy allows no inline
// script). The server sends a `change` event on /work/events when the list differs from the
// page shown; the table is then fetched again with htmx and swapped in place. Without this
// script (or without EventSource) the page still works: reload it by hand.
(function () {
  "use strict";

  function start(box) {
    var src = box.getAttribute("data-live");
    var list = box.getAttribute("data-list");
    if (!src || !list || !window.EventSource || !window.htmx) return;
    var status = box.querySelector("[data-live-status]");
    var events = new EventSource(src);
    events.addEventListener("change", function (e) {
      var target = box.querySelector("[data-live-target]");
      if (!target) return;
      // The server writes the status line (列表已更新 14:05:22): the page's language, the
      // deployment's time zone, not the browser's clock or locale.
      var text = "";
      try { text = JSON.parse(e.data).status || ""; } catch (_) { /* an older server */ }
      htmx.ajax("GET", list, { target: target, swap: "outerHTML" }).then(function () {
        box.setAttribute("data-refreshed", String(Date.now()));
        if (status && text) status.textContent = text;
      });
    });
    // Leaving the page closes the stream at once (the server counts open lists).
    window.addEventListener("pagehide", function () { events.close(); });
  }

  function onReady(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  onReady(function () {
    document.querySelectorAll("[data-live]").forEach(start);
  });
})();
