// The dashboard's charts (Apache ECharts, vendored). Each chart element carries its figures
// as JSON in data-spec, written by the server; nothing is fetched.
(function () {
  "use strict";

  // One colour per meaning, whatever the region's level: greens where cases stayed low, warm
  // where they went up, grey referred out, red still open.
  var LEVEL_COLOURS = {
    grid: "#1a7f37", village: "#4caf50", township: "#9ccc65", county: "#fbc02d",
    city: "#f57c00", referred: "#9e9e9e", open: "#e57373"
  };
  var LINE_COLOURS = ["#1a7f37", "#1565c0", "#6a1b9a", "#c62828"];
  // Tooltips drawn by ECharts itself, not as HTML: its HTML tooltips carry style attributes,
  // which the Content-Security-Policy (style-src 'self') refuses.
  var TOOLTIP = { renderMode: "richText", confine: true };
  var FONT = '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif';

  function levels(spec) {
    var horizontal = spec.categories.length > 8;
    var cat = { type: "category", data: spec.categories, axisLabel: { interval: 0, fontFamily: FONT } };
    var val = { type: "value", minInterval: 1 };
    if (!horizontal) cat.axisLabel.rotate = spec.categories.length > 4 ? 30 : 0;
    return {
      textStyle: { fontFamily: FONT },
      tooltip: Object.assign({ trigger: "axis", axisPointer: { type: "shadow" } }, TOOLTIP),
      legend: { top: 0, type: "scroll" },
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      xAxis: horizontal ? val : cat,
      yAxis: horizontal ? Object.assign(cat, { inverse: true }) : val,
      series: spec.series.map(function (s) {
        return {
          name: s.name, type: "bar", stack: "all", data: s.data, barMaxWidth: 48,
          itemStyle: { color: LEVEL_COLOURS[s.key] }, emphasis: { focus: "series" }
        };
      })
    };
  }

  // The four rates as lines over twelve months, and the cases registered each month as pale
  // bars behind them (on their own axis), so a month without cases reads as such.
  function trend(spec) {
    var lines = spec.series.map(function (s) {
      return {
        name: s.name, type: "line", data: s.data, connectNulls: false, symbolSize: 6,
        tooltip: { valueFormatter: function (v) { return v == null ? "—" : v.toFixed(1) + "%"; } }
      };
    });
    lines.push({
      name: spec.registered.name, type: "bar", yAxisIndex: 1, data: spec.registered.data,
      itemStyle: { color: "#d0d7de" }, barMaxWidth: 28, z: 1
    });
    return {
      color: LINE_COLOURS,
      textStyle: { fontFamily: FONT },
      tooltip: Object.assign({ trigger: "axis" }, TOOLTIP),
      legend: { top: 0, type: "scroll" },
      grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: spec.categories, axisLabel: { interval: 0, rotate: 30 } },
      yAxis: [
        { type: "value", max: 100, axisLabel: { formatter: "{value}%" }, scale: true },
        { type: "value", minInterval: 1, splitLine: { show: false } }
      ],
      series: lines
    };
  }

  function draw() {
    if (!window.echarts) return;
    var charts = [];
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var spec;
      try { spec = JSON.parse(el.getAttribute("data-spec")); } catch (e) { return; }
      var kind = el.getAttribute("data-chart");
      var option = kind === "levels" ? levels(spec) : trend(spec);
      if (kind === "levels" && spec.categories.length > 8) {
        el.classList.add("tall");
      }
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(option);
      el.setAttribute("data-drawn", "1");
      charts.push(chart);
    });
    window.addEventListener("resize", function () {
      charts.forEach(function (c) { c.resize(); });
    });
  }

  if (document.readyState !== "loading") draw();
  else document.addEventListener("DOMContentLoaded", draw);
})();
