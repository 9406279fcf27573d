// The workbench's behaviour, loaded as a file (the Content-Security-Policy allows no inline
// script). Every page works without it; it adds: one submission per form, the period
// picker showing only the fields of the chosen kind, sortable tables, the print button.
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  // A form marked data-once is sent once: its submit buttons are disabled once it is on its
  // way (the server's idempotency key makes a second send harmless anyway).
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.hasAttribute || !form.hasAttribute("data-once")) return;
    if (form.getAttribute("data-sent") === "1") {
      e.preventDefault();
      return;
    }
    form.setAttribute("data-sent", "1");
    setTimeout(function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        b.disabled = true;
        b.classList.add("busy");
      });
    }, 0);
  });

  // Pages restored from the back/forward cache get their buttons back.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-once]").forEach(function (f) {
      f.removeAttribute("data-sent");
      f.querySelectorAll("button[type=submit]").forEach(function (b) {
        b.disabled = false;
        b.classList.remove("busy");
      });
    });
  });

  function showPeriodFields(select) {
    var form = select.form;
    form.querySelectorAll("[data-ptype]").forEach(function (el) {
      var on = el.getAttribute("data-ptype") === select.value;
      el.hidden = !on;
      el.querySelectorAll("input,select").forEach(function (i) { i.disabled = !on; });
    });
  }

  function sortTable(table, col, type, dir) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].getAttribute("data-sort") || "";
      var y = b.cells[col].getAttribute("data-sort") || "";
      var c = type === "num" ? parseFloat(x) - parseFloat(y) : x.localeCompare(y, "zh-CN");
      return dir === "asc" ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  onReady(function () {
    document.querySelectorAll("[data-ptype-select]").forEach(function (s) {
      showPeriodFields(s);
      s.addEventListener("change", function () { showPeriodFields(s); });
    });

    document.querySelectorAll("table[data-sortable]").forEach(function (table) {
      table.querySelectorAll("button.sort").forEach(function (b) {
        b.addEventListener("click", function () {
          var dir = b.getAttribute("data-dir") === "desc" ? "asc" : "desc";
          if (b.getAttribute("data-col") === "0" && !b.hasAttribute("data-dir")) dir = "asc";
          table.querySelectorAll("button.sort").forEach(function (o) {
            o.removeAttribute("data-dir");
            o.closest("th").removeAttribute("aria-sort");
          });
          b.setAttribute("data-dir", dir);
          b.closest("th").setAttribute("aria-sort", dir === "asc" ? "ascending" : "descending");
          sortTable(table, parseInt(b.getAttribute("data-col"), 10), b.getAttribute("data-type"), dir);
        });
      });
    });

    document.querySelectorAll("[data-print]").forEach(function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
  });
})();
