/* touchpoint dashboard: draws the charts from the JSON the page carries. No network. */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("touchpoint-data").textContent);
  var report = data.report;
  var charts = [];
  var font = window.getComputedStyle(document.body).fontFamily;
  var INK = "#172033";
  var MUTED = "#6b7487";
  var GRID = "#eef0f5";

  function esc(value) {
    return String(value == null ? "" : value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  // Rich-text labels treat {name|text} as markup: keep braces and bars out of names shown there.
  function plain(value) {
    return String(value == null ? "" : value).replace(/[{}|]/g, " ");
  }
  var numberFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
  var moneyFormat = new Intl.NumberFormat("en-US", {
    style: "currency", currency: data.currency, maximumFractionDigits: 0
  });
  var compactMoney = new Intl.NumberFormat("en-US", {
    style: "currency", currency: data.currency, notation: "compact", maximumFractionDigits: 1
  });
  function num(v) { return numberFormat.format(v || 0); }
  function money(v) { return moneyFormat.format(v || 0); }
  function color(channel) { return data.channelColors[channel] || "#8b95a7"; }

  function base(option) {
    var common = {
      animation: false,
      textStyle: { fontFamily: font, color: INK },
      tooltip: {
        backgroundColor: "#ffffff", borderColor: "#e5e8ef", borderWidth: 1,
        textStyle: { color: INK, fontSize: 12, fontFamily: font },
        extraCssText: "box-shadow: 0 4px 16px rgba(16,24,40,.12); border-radius: 8px;"
      }
    };
    for (var key in option) {
      if (key === "tooltip") {
        for (var t in option.tooltip) { common.tooltip[t] = option.tooltip[t]; }
      } else {
        common[key] = option[key];
      }
    }
    return common;
  }

  function mount(name, option) {
    var element = document.querySelector('[data-chart="' + name + '"]');
    if (!element) { return null; }
    var chart = window.echarts.init(element, null, { renderer: "svg" });
    chart.setOption(base(option));
    charts.push(chart);
    return chart;
  }

  function legend(extra) {
    var options = {
      top: 0, left: 0, icon: "roundRect", itemWidth: 10, itemHeight: 10, itemGap: 14,
      textStyle: { color: MUTED, fontSize: 12 }
    };
    for (var key in extra || {}) { options[key] = extra[key]; }
    return options;
  }

  function axisTooltip(format) {
    return function (params) {
      var lines = ["<strong>" + esc(params[0].axisValueLabel) + "</strong>"];
      params.forEach(function (p) {
        if (p.value == null || p.value === 0) { return; }
        var value = Array.isArray(p.value) ? p.value[1] : p.value;
        lines.push(p.marker + esc(p.seriesName) + ": <strong>" + esc(format(value)) + "</strong>");
      });
      return lines.join("<br>");
    };
  }

  var valueAxis = {
    type: "value",
    splitLine: { lineStyle: { color: GRID } },
    axisLabel: { color: MUTED }
  };
  var categoryAxis = {
    type: "category",
    axisTick: { show: false },
    axisLine: { lineStyle: { color: "#d5dae5" } },
    axisLabel: { color: INK }
  };
  function extend(a, b) {
    var c = {};
    for (var k in a) { c[k] = a[k]; }
    for (var j in b) { c[j] = b[j]; }
    return c;
  }

  /* Calls by channel: one bar per channel, split by merge outcome. */
  (function () {
    var rows = report.calls_by_channel.slice().reverse();
    var rich = {};
    rows.forEach(function (row, i) { rich["c" + i] = { color: color(row.channel), fontSize: 13 }; });
    mount("calls-by-channel", {
      grid: { left: 8, right: 32, top: 34, bottom: 4, containLabel: true },
      legend: legend(),
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, formatter: axisTooltip(num) },
      xAxis: valueAxis,
      yAxis: extend(categoryAxis, {
        data: rows.map(function (r) { return r.channel; }),
        axisLine: { show: false },
        axisLabel: {
          color: INK,
          formatter: function (value, index) { return "{c" + index + "|\u25CF}  " + plain(value); },
          rich: rich
        }
      }),
      series: data.outcomes.map(function (outcome, i) {
        return {
          name: data.outcomeLabels[outcome], type: "bar", stack: "calls", barMaxWidth: 18,
          itemStyle: {
            color: data.outcomeColors[outcome],
            borderRadius: i === data.outcomes.length - 1 ? [0, 4, 4, 0] : 0
          },
          label: { show: false },
          data: rows.map(function (r) { return r[outcome]; })
        };
      })
    });
  })();

  /* Merge outcomes: a donut with the merged share in the middle. */
  (function () {
    var outcomes = report.merge_outcomes.outcomes;
    var rate = report.summary.merge_rate;
    mount("merge-outcomes", {
      tooltip: {
        trigger: "item",
        formatter: function (p) {
          return p.marker + esc(p.name) + ": <strong>" + num(p.value) + "</strong> (" + p.percent + "%)";
        }
      },
      graphic: [
        {
          type: "text", left: "center", top: "39%",
          style: {
            text: rate == null ? "–" : Math.round(rate * 100) + "%",
            fill: INK, font: "700 28px " + font, textAlign: "center"
          }
        },
        {
          type: "text", left: "center", top: "55%",
          style: { text: "merged", fill: MUTED, font: "13px " + font, textAlign: "center" }
        }
      ],
      series: [{
        type: "pie", radius: ["60%", "86%"], center: ["50%", "50%"], padAngle: 1.5,
        itemStyle: { borderRadius: 4 }, label: { show: false },
        data: outcomes.map(function (o) {
          return {
            name: data.outcomeLabels[o.outcome], value: o.calls,
            itemStyle: { color: data.outcomeColors[o.outcome] }
          };
        })
      }]
    });
  })();

  /* Minutes from session start to call, with the window and the 45 / 60-minute lines. */
  (function () {
    var merge = report.merge_outcomes;
    var bins = merge.gap_bins;
    var labels = bins.map(function (b) {
      return b.end_minute == null ? b.start_minute + "+" : String(b.start_minute);
    });
    // Lines sit on bin edges: a window of W minutes ends between the bins either side of W.
    function edge(minutes) { return Math.min(minutes / 5, labels.length) - 0.5; }
    var lines = [{
      xAxis: edge(merge.window_minutes),
      label: { formatter: merge.window_minutes + " min", color: INK, fontWeight: 600 },
      lineStyle: { color: INK, type: "solid", width: 1.5 }
    }];
    merge.what_if.forEach(function (w) {
      if (w.window_minutes > merge.window_minutes) {
        lines.push({
          xAxis: edge(w.window_minutes),
          label: { formatter: w.window_minutes + "", color: MUTED },
          lineStyle: { color: "#9aa3b5", type: "dashed", width: 1 }
        });
      }
    });
    mount("call-gap-minutes", {
      grid: { left: 8, right: 16, top: 48, bottom: 26, containLabel: true },
      legend: legend(),
      tooltip: {
        trigger: "axis", axisPointer: { type: "shadow" },
        formatter: function (params) {
          var bin = bins[params[0].dataIndex];
          var range = bin.end_minute == null
            ? bin.start_minute + " minutes or more"
            : bin.start_minute + "–" + bin.end_minute + " minutes";
          var text = ["<strong>" + esc(range) + "</strong>"];
          params.forEach(function (p) {
            if (p.value) { text.push(p.marker + esc(p.seriesName) + ": <strong>" + num(p.value) + "</strong>"); }
          });
          return text.join("<br>");
        }
      },
      xAxis: extend(categoryAxis, {
        data: labels, name: "minutes after the session started", nameLocation: "middle", nameGap: 28,
        nameTextStyle: { color: MUTED },
        axisLabel: { color: MUTED, interval: 5 }
      }),
      yAxis: extend(valueAxis, { minInterval: 1 }),
      series: [
        {
          name: data.outcomeLabels.merged, type: "bar", stack: "gap", barCategoryGap: "18%",
          itemStyle: { color: data.outcomeColors.merged },
          data: bins.map(function (b) { return b.merged; }),
          markLine: { symbol: "none", silent: true, data: lines, label: { position: "end", fontSize: 11 } }
        },
        {
          name: data.outcomeLabels.outside_window, type: "bar", stack: "gap",
          itemStyle: { color: data.outcomeColors.outside_window },
          data: bins.map(function (b) { return b.outside_window; })
        }
      ]
    });
  })();

  /* Attributed revenue by channel: one stacked bar per model, channels in their colours. */
  (function () {
    var models = report.models;
    if (!models.credits.length) { return; }
    var lookup = {};
    models.credits.forEach(function (c) { lookup[c.model + "\u0000" + c.channel] = c; });
    var chart;
    function option(measure) {
      var isMoney = measure === "won_revenue" || measure === "open_pipeline";
      var fmt = isMoney ? money : num;
      return {
        grid: { left: 8, right: 16, top: 64, bottom: 14, containLabel: true },
        legend: legend({ type: "scroll", right: 0 }),
        tooltip: {
          trigger: "axis", axisPointer: { type: "shadow" },
          formatter: function (params) {
            var total = 0;
            params.forEach(function (p) { total += p.value || 0; });
            var lines = ["<strong>" + esc(params[0].axisValueLabel) + "</strong> · " + esc(fmt(total))];
            params.slice().reverse().forEach(function (p) {
              if (!p.value) { return; }
              var part = total ? " (" + Math.round(100 * p.value / total) + "%)" : "";
              lines.push(p.marker + esc(p.seriesName) + ": <strong>" + esc(fmt(p.value)) + "</strong>" + part);
            });
            return lines.join("<br>");
          }
        },
        xAxis: extend(categoryAxis, {
          data: models.models.map(function (m) { return models.labels[m]; }),
          axisLabel: {
            color: INK, interval: 0,
            formatter: function (value) {
              return value === data.modelLabels[report.summary.model] ? "{chosen|" + plain(value) + "}" : plain(value);
            },
            rich: { chosen: { fontWeight: 700, color: INK } }
          }
        }),
        yAxis: extend(valueAxis, {
          axisLabel: {
            color: MUTED,
            formatter: function (v) { return isMoney ? compactMoney.format(v) : num(v); }
          }
        }),
        series: models.channels.map(function (channel, i) {
          return {
            name: channel, type: "bar", stack: "credit", barMaxWidth: 46,
            itemStyle: { color: color(channel) },
            emphasis: { focus: "series" },
            data: models.models.map(function (m) {
              var c = lookup[m + "\u0000" + channel];
              return c ? Math.round(c[measure] * 100) / 100 : 0;
            })
          };
        })
      };
    }
    chart = mount("revenue-by-model", option(data.defaultMeasure));
    var buttons = document.querySelectorAll("[data-measure]");
    Array.prototype.forEach.call(buttons, function (button) {
      button.addEventListener("click", function () {
        Array.prototype.forEach.call(buttons, function (b) {
          b.setAttribute("aria-pressed", b === button ? "true" : "false");
        });
        chart.setOption(base(option(button.getAttribute("data-measure"))), { notMerge: true });
      });
    });
  })();

  /* Touchpoint type by channel: a heat map with the count in each cell. */
  (function () {
    var mix = report.touchpoint_mix;
    var max = 1;
    var cells = mix.cells.map(function (c) {
      max = Math.max(max, c.touchpoints);
      return [mix.channels.indexOf(c.channel), mix.touchpoint_types.indexOf(c.touchpoint_type), c.touchpoints];
    });
    mount("touchpoint-types", {
      grid: { left: 8, right: 12, top: 8, bottom: 8, containLabel: true },
      tooltip: {
        formatter: function (p) {
          return "<strong>" + esc(mix.touchpoint_types[p.value[1]]) + "</strong> from " +
            esc(mix.channels[p.value[0]]) + ": <strong>" + num(p.value[2]) + "</strong>";
        }
      },
      xAxis: extend(categoryAxis, {
        data: mix.channels.map(plain), splitArea: { show: false },
        axisLabel: { color: INK, interval: 0, rotate: mix.channels.length > 6 ? 35 : 0, fontSize: 11.5 }
      }),
      yAxis: extend(categoryAxis, { data: mix.touchpoint_types.map(plain), axisLine: { show: false } }),
      visualMap: {
        show: false, min: 0, max: max, calculable: false,
        inRange: { color: ["#f3f6fd", "#c9d8fb", "#7ea3f5", "#3d6fe0"] }
      },
      series: [{
        type: "heatmap", data: cells,
        label: {
          show: true, fontSize: 12, fontWeight: 600, color: INK,
          textBorderColor: "rgba(255,255,255,.85)", textBorderWidth: 2
        },
        itemStyle: { borderColor: "#ffffff", borderWidth: 3, borderRadius: 5 }
      }]
    });
  })();

  /* Week by week: calls (merged or not) as bars, leads and sessions as lines. */
  (function () {
    var weeks = report.trend;
    var labels = weeks.map(function (w) {
      var d = new Date(w.week + "T00:00:00Z");
      return d.toLocaleDateString("en-US", { month: "short", day: "numeric", timeZone: "UTC" });
    });
    mount("weekly-trend", {
      grid: { left: 8, right: 8, top: 40, bottom: 14, containLabel: true },
      legend: legend(),
      tooltip: { trigger: "axis", formatter: axisTooltip(num) },
      xAxis: extend(categoryAxis, { data: labels }),
      yAxis: [
        extend(valueAxis, { minInterval: 1 }),
        extend(valueAxis, { minInterval: 1, splitLine: { show: false }, axisLabel: { color: "#a3abbb" } })
      ],
      series: [
        {
          name: "Calls merged", type: "bar", stack: "calls", barMaxWidth: 28,
          itemStyle: { color: data.outcomeColors.merged },
          data: weeks.map(function (w) { return w.merged_calls; })
        },
        {
          name: "Calls not merged", type: "bar", stack: "calls", barMaxWidth: 28,
          itemStyle: { color: "#f3c26b", borderRadius: [4, 4, 0, 0] },
          data: weeks.map(function (w) { return w.calls - w.merged_calls; })
        },
        {
          name: "Leads", type: "line", smooth: 0.25, symbolSize: 6,
          itemStyle: { color: "#2f6fed" }, lineStyle: { width: 2.5 },
          data: weeks.map(function (w) { return w.leads; })
        },
        {
          name: "Sessions (right axis)", type: "line", yAxisIndex: 1, smooth: 0.25, symbol: "none",
          itemStyle: { color: "#a3abbb" }, lineStyle: { width: 1.5, type: "dashed" },
          data: weeks.map(function (w) { return w.sessions; })
        }
      ]
    });
  })();

  /* A person's journey: touchpoints on a time line, one lane per channel. */
  (function () {
    var journeys = data.journeys;
    if (!journeys.length) { return; }
    var symbols = { "Web Visit": "circle", "Web Form": "rect", "Web Chat": "roundRect", "CRM": "triangle" };
    function symbolFor(type, callId) {
      return symbols[type] || (callId ? "diamond" : "pin");
    }
    function option(index) {
      var j = journeys[index];
      var lanes = [];
      j.touches.forEach(function (t) { if (lanes.indexOf(t.channel) < 0) { lanes.push(t.channel); } });
      var points = j.touches.map(function (t) {
        return {
          value: [t.at, lanes.indexOf(t.channel)],
          symbol: symbolFor(t.type, t.call_id), symbolSize: 17,
          itemStyle: { color: color(t.channel), borderColor: "#fff", borderWidth: 2 },
          label: {
            show: !!t.positions, position: "top", distance: 8, formatter: plain(t.positions),
            color: INK, fontSize: 11, fontWeight: 600
          },
          touch: t
        };
      });
      // CRM milestones (lead, opportunity, close) get a lane of their own at the top.
      var milestoneLane = j.marks.length ? lanes.length : -1;
      if (j.marks.length) { lanes.push("Milestones"); }
      var milestones = j.marks.map(function (m, i) {
        return {
          value: [m.at, milestoneLane],
          symbol: "roundRect", symbolSize: [12, 12],
          itemStyle: { color: m.won ? "#0f9f6e" : "#39445a", borderColor: "#fff", borderWidth: 2 },
          label: {
            show: true, position: i % 2 ? "bottom" : "top", distance: 6, formatter: plain(m.label),
            color: INK, fontSize: 11, fontWeight: 600
          },
          mark: m
        };
      });
      var span = j.touches.length ? j.touches[j.touches.length - 1].at - j.touches[0].at : 0;
      var pad = Math.max(span * 0.08, 12 * 3600 * 1000);
      var ends = j.touches.map(function (t) { return t.at; }).concat(j.marks.map(function (m) { return m.at; }));
      return {
        useUTC: true,
        grid: { left: 8, right: 24, top: 36, bottom: 8, containLabel: true },
        tooltip: {
          trigger: "item",
          formatter: function (p) {
            var m = p.data && p.data.mark;
            if (m) { return "<strong>" + esc(m.label) + "</strong> · " + esc(m.when); }
            var t = p.data && p.data.touch;
            if (!t) { return ""; }
            var lines = ["<strong>" + esc(t.type) + "</strong> · " + esc(t.when)];
            lines.push(p.marker + esc(t.channel) + (t.source ? " · " + esc(t.source) : ""));
            if (t.campaign) { lines.push("Campaign: " + esc(t.campaign)); }
            if (t.positions) { lines.push("Positions: " + esc(t.positions)); }
            if (t.credited) { lines.push("Credited: <strong>" + esc(money(t.credited)) + "</strong>"); }
            return lines.join("<br>");
          }
        },
        xAxis: {
          type: "time",
          min: Math.min.apply(null, ends) - pad, max: Math.max.apply(null, ends) + pad,
          splitLine: { show: true, lineStyle: { color: GRID } },
          axisLabel: {
            color: MUTED, hideOverlap: true,
            formatter: { year: "{yyyy}", month: "{MMM} {yyyy}", day: "{d} {MMM}", hour: "{HH}:{mm}", minute: "{HH}:{mm}" }
          },
          axisLine: { lineStyle: { color: "#d5dae5" } }
        },
        yAxis: extend(categoryAxis, {
          data: lanes.map(plain), axisLine: { show: false },
          splitLine: { show: true, lineStyle: { color: GRID } }, boundaryGap: true
        }),
        series: [
          {
            type: "line", data: points.map(function (p) { return p.value; }), symbol: "none",
            lineStyle: { color: "#c3cad8", width: 1.5, type: "dashed" }, silent: true, z: 1
          },
          { type: "scatter", data: points, z: 3 },
          { type: "scatter", data: milestones, z: 2 }
        ]
      };
    }
    var chart = mount("journey-timeline", option(0));
    var select = document.getElementById("journey-person");
    if (select) {
      select.addEventListener("change", function () {
        var index = Number(select.value);
        Array.prototype.forEach.call(document.querySelectorAll("[data-journey]"), function (el) {
          el.hidden = el.getAttribute("data-journey") !== String(index);
        });
        chart.setOption(base(option(index)), { notMerge: true });
      });
    }
  })();

  /* Calls and revenue by: one table per dimension, one shown at a time. */
  (function () {
    var buttons = document.querySelectorAll("[data-dimension]");
    Array.prototype.forEach.call(buttons, function (button) {
      button.addEventListener("click", function () {
        var wanted = button.getAttribute("data-dimension");
        Array.prototype.forEach.call(buttons, function (b) {
          b.setAttribute("aria-pressed", b === button ? "true" : "false");
        });
        Array.prototype.forEach.call(document.querySelectorAll("[data-breakdown]"), function (el) {
          el.hidden = el.getAttribute("data-breakdown") !== wanted;
        });
      });
    });
  })();

  window.addEventListener("resize", function () {
    charts.forEach(function (chart) { chart.resize(); });
  });
  document.documentElement.setAttribute("data-charts-ready", String(charts.length));
})();
