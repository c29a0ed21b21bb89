// Small progressive enhancement for the server-rendered pages: charts (uPlot, vendored)
// and forms that apply themselves. Every figure is in the HTML already; without this
// script the pages show the same numbers in their tables, without charts.
(function () {
  "use strict";
  var tz = document.body.getAttribute("data-tz") || "UTC";
  var palette = ["#3b6fd8", "#e0843a", "#3aa57a", "#c9475a", "#8a5cc7", "#2aa6b8", "#b5a33a", "#8c8c8c", "#d46fb0"];

  function moneyAxis(u, values) {
    return values.map(function (v) {
      if (v === 0) return "$0";
      if (Math.abs(v) >= 1000) return "$" + (v / 1000).toFixed(v % 1000 ? 1 : 0) + "k";
      if (Math.abs(v) >= 1) return "$" + v.toFixed(v % 1 ? 2 : 0);
      return "$" + v.toPrecision(2).replace(/0+$/, "");
    });
  }

  function stacked(spec) {
    // Running sums, drawn from the top series down so each fill covers the one below it.
    var sums = spec.x.map(function () { return 0; });
    var layers = spec.series.map(function (s) {
      return s.values.map(function (v, i) { sums[i] += v === null ? 0 : parseFloat(v); return sums[i]; });
    });
    var order = spec.series.map(function (_, i) { return i; }).reverse();
    return {
      data: [spec.x].concat(order.map(function (i) { return layers[i]; })),
      series: order.map(function (i) {
        var color = palette[i % palette.length];
        return { label: spec.series[i].label, stroke: color, fill: color + "cc", width: 1,
                 value: legendValue(spec.series[i]), points: { show: false } };
      })
    };
  }

  function lines(spec) {
    return {
      data: [spec.x].concat(spec.series.map(function (s) {
        return s.values.map(function (v) { return v === null ? null : parseFloat(v); });
      })),
      series: spec.series.map(function (s, i) {
        var color = s.style === "limit" ? "#c9475a" : (s.style === "dashed" ? "#8a5cc7" : palette[i % palette.length]);
        var options = { label: s.label, stroke: color, width: s.style === "limit" ? 1.5 : 2, value: legendValue(s),
                        spanGaps: true, points: { show: false } };
        if (s.style === "dashed") options.dash = [6, 4];
        if (s.style === "bars") { options.paths = uPlot.paths.bars({ size: [0.8, 40] }); options.fill = color + "aa"; }
        return options;
      })
    };
  }

  function legendValue(s) {
    // What the server formatted: the same text the tables show.
    return function (u, v, si, i) { return i === null || i === undefined ? "" : (s.display[i] || ""); };
  }

  function draw(holder) {
    var script = holder.querySelector("script.chart-data");
    var spec = JSON.parse(script.textContent);
    if (!spec.x.length || !spec.series.length) {
      holder.classList.add("empty-chart");
      holder.appendChild(document.createTextNode("No spend to chart in this range."));
      return;
    }
    var built = spec.kind === "stacked" ? stacked(spec) : lines(spec);
    var small = holder.classList.contains("small");
    var options = {
      width: Math.max(holder.clientWidth, 280),
      height: small ? 200 : 280,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), tz); },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.08 : 1]; } } },
      // Daily buckets get date ticks, never hours between them.
      axes: [spec.step === "hour" ? {} : { space: 50, incrs: [86400, 2 * 86400, 7 * 86400, 28 * 86400],
                                            values: "{M}/{D}" },
             { values: moneyAxis, size: 60 }],
      series: [{ label: spec.step === "hour" ? "hour" : "day",
                 value: spec.step === "hour" ? "{YYYY}-{MM}-{DD} {HH}:{mm}" : "{YYYY}-{MM}-{DD}" }].concat(built.series),
      legend: { live: true },
      cursor: { points: { show: false } }
    };
    var plot = new uPlot(options, built.data, holder);
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(holder.clientWidth, 280), height: options.height });
    });
  }

  function submitClean(form) {
    // Empty fields stay out of the URL, so that links stay short and shareable.
    Array.prototype.forEach.call(form.elements, function (field) {
      if (field.name && field.value === "" && field.tagName !== "BUTTON") field.disabled = true;
    });
    form.submit();
  }

  function forms() {
    Array.prototype.forEach.call(document.querySelectorAll("form[method=get]"), function (form) {
      form.addEventListener("submit", function (event) { event.preventDefault(); submitClean(form); });
    });
    Array.prototype.forEach.call(document.querySelectorAll("select.autosubmit"), function (select) {
      select.addEventListener("change", function () { submitClean(select.form); });
    });
    var range = document.getElementById("range");
    if (range) {
      var dates = range.form.querySelectorAll("input[type=date]");
      range.addEventListener("change", function () {
        if (range.value) {
          Array.prototype.forEach.call(dates, function (d) { d.value = ""; });
          submitClean(range.form);
        }
      });
      Array.prototype.forEach.call(dates, function (d) {
        d.addEventListener("change", function () { range.value = ""; });
      });
    }
    // Offer the browser's own time zone.
    var zones = document.getElementById("zones");
    try {
      var mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (zones && mine && mine !== "UTC") {
        var option = document.createElement("option");
        option.value = mine;
        option.label = "your time zone";
        zones.appendChild(option);
      }
    } catch (e) { /* no Intl: UTC and typed names still work */ }
  }

  forms();
  Array.prototype.forEach.call(document.querySelectorAll(".chart"), draw);
})();
