/* Report page behaviour: number formats, sortable/filterable tables, ECharts charts.
   Formats mirror orchestration/render/formats.py (tests compare both). No network use. */
(function () {
  "use strict";
  var NULL_TEXT = "-";

  /* Formats: Python resolves each fmt against its column (Evidence's auto formats) into
     {code, div, suffix, kind, date}; here SheetJS SSF applies the code, as in Evidence. */
  function fallback(v) {
    if (typeof v === "number") return v.toLocaleString("en-US", { minimumFractionDigits: 0, maximumFractionDigits: 2 });
    return String(v);
  }
  function fmt(value, r) {
    if (value === null || value === undefined) return NULL_TEXT;
    if (!r || r.kind === "fallback" || !r.code) return fallback(value);
    if (r.kind === "raw") return String(value);
    var v = value;
    if (typeof v === "number" && r.div !== 1) v = v / r.div;
    if (r.date && typeof v === "string" && /^\d{4}-\d{2}-\d{2}/.test(v)) {
      var p = v.split(/[^0-9]/).map(Number);
      v = new Date(p[0], p[1] - 1, p[2], p[3] || 0, p[4] || 0, p[5] || 0);
    }
    return window.SSF.format(r.code, v) + (r.suffix || "");
  }

  /* A day count published as the date it counts from (orchestration/render/relative.py): the page
     shows max(0, as-of date - since) in days, the as-of date being this version's (assets/run.js). */
  function utcDay(text) {
    var p = String(text).split("-").map(Number);
    return Date.UTC(p[0], p[1] - 1, p[2]) / 86400000;
  }
  function daysSince(since) {
    return Math.max(0, utcDay((window.opscenterRun || {}).as_of_date) - utcDay(since));
  }
  function daysUntil(until) {
    return Math.max(0, utcDay(until) - utcDay((window.opscenterRun || {}).as_of_date));
  }
  /* A text with a day count inside, published as its template ({"t": template, "s": since} or "u":
     until): every c.days placeholder replaced by the count, as relative.py's check did. */
  function fillText(cell, placeholder) {
    var n = cell.s !== undefined ? daysSince(cell.s) : daysUntil(cell.u);
    return cell.t.split(placeholder).join(String(n));
  }
  /* A cell is [raw value, shown text]; the data file writes one whose raw value is its text as
     the text alone (tables.cell_json): "x" is ["x", "x"]. */
  function expandCells(spec) {
    spec.rows.forEach(function (r) {
      for (var i = 0; i < r.c.length; i++) if (typeof r.c[i] === "string") r.c[i] = [r.c[i], r.c[i]];
    });
  }
  function relativeCells(spec) {
    spec.columns.forEach(function (c, i) {
      if (!c.rel && !c.days) return;
      spec.rows.forEach(function (r) {
        var cell = r.c[i];
        if (!cell || Array.isArray(cell)) return;
        if (c.days) { var text = fillText(cell, c.days); r.c[i] = [text, text]; }
        else { var n = daysSince(cell.s); r.c[i] = [n, fmt(n, c.rel)]; }
      });
    });
  }

  function csvCell(v) {
    if (v === null || v === undefined) return "";
    var s = String(v);
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  /* CSV as Excel opens it: UTF-8 with a byte-order mark, CRLF, raw values (not the display text). */
  function downloadCsv(spec, name) {
    var lines = [spec.columns.map(function (c) { return csvCell(c.title); }).join(",")];
    spec.rows.forEach(function (r) { lines.push(r.c.map(function (cell) { return csvCell(cell[0]); }).join(",")); });
    var blob = new Blob(["\ufeff" + lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
    var a = el("a", { href: URL.createObjectURL(blob), download: name });
    document.body.appendChild(a); a.click(); document.body.removeChild(a);
    setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function readJson(id) { return JSON.parse(document.getElementById(id).textContent); }

  function compare(a, b) {
    if (a === b) return 0;
    if (a === null) return 1;          // nulls last
    if (b === null) return -1;
    if (typeof a === "number" && typeof b === "number") return a - b;
    return String(a).localeCompare(String(b), "zh-CN");
  }

  function setupTable(box) {
    var spec = readJson(box.getAttribute("data-table") + "-data");
    expandCells(spec);
    relativeCells(spec);
    var state = { rows: spec.rows, sortCol: -1, dir: 1, page: 0, filter: "" };
    var tools = el("div", { "class": "table-tools" });
    var search = null;
    if (spec.search) {
      search = el("input", { "class": "table-search", type: "search", placeholder: "筛选…", "aria-label": "筛选" });
      tools.appendChild(search);
    } else tools.appendChild(el("span"));
    var count = el("span", { "class": "table-count" });
    var right = el("span", { "class": "right" });
    right.appendChild(count);
    if (spec.download) {
      var dl = el("button", { type: "button", "class": "csv-download" }, "下载 CSV");
      var name = (spec.title || document.title.split(" · ")[0]) + "-" + box.getAttribute("data-table") + ".csv";
      dl.addEventListener("click", function () { downloadCsv(spec, name); });
      right.appendChild(dl);
    }
    tools.appendChild(right);
    var table = el("table");
    var thead = el("thead"), tbody = el("tbody"), hr = el("tr");
    spec.columns.forEach(function (c, i) {
      var th = el("th", c.num ? { "class": "num", "data-col": i } : { "data-col": i }, c.title);
      th.appendChild(el("span", { "class": "sort" }, ""));
      th.addEventListener("click", function () {
        state.dir = state.sortCol === i ? -state.dir : 1;
        state.sortCol = i; state.page = 0; draw();
      });
      hr.appendChild(th);
    });
    thead.appendChild(hr); table.appendChild(thead); table.appendChild(tbody);
    var scroll = el("div", { "class": "scroll" }); scroll.appendChild(table);
    var pager = el("div", { "class": "pager" });
    var prev = el("button", { type: "button" }, "上一页"), next = el("button", { type: "button" }, "下一页");
    var where = el("span");
    pager.appendChild(prev); pager.appendChild(where); pager.appendChild(next);
    prev.addEventListener("click", function () { state.page--; draw(); });
    next.addEventListener("click", function () { state.page++; draw(); });
    if (search) search.addEventListener("input", function () { state.filter = search.value.trim().toLowerCase(); state.page = 0; draw(); });
    box.appendChild(tools); box.appendChild(scroll); box.appendChild(pager);

    function draw() {
      var rows = state.rows;
      if (state.filter) rows = rows.filter(function (r) {
        return r.c.some(function (cell) { return String(cell[1]).toLowerCase().indexOf(state.filter) >= 0; });
      });
      if (state.sortCol >= 0) {
        var i = state.sortCol, d = state.dir;
        rows = rows.slice().sort(function (a, b) {
          var x = a.c[i][0], y = b.c[i][0];
          if (x === null || y === null) return compare(x, y);   // nulls last both ways
          return d * compare(x, y);
        });
      }
      Array.prototype.forEach.call(hr.children, function (th, i) {
        th.lastChild.textContent = i === state.sortCol ? (state.dir > 0 ? "▲" : "▼") : "";
      });
      var size = (!state.all && spec.pageSize) || rows.length || 1;
      var pages = Math.max(1, Math.ceil(rows.length / size));
      state.page = Math.min(Math.max(state.page, 0), pages - 1);
      var shown = rows.slice(state.page * size, state.page * size + size);
      tbody.textContent = "";
      if (!shown.length) {
        var tr0 = el("tr"), td0 = el("td", { colspan: spec.columns.length, "class": "empty" }, "暂无数据");
        tr0.appendChild(td0); tbody.appendChild(tr0);
      }
      shown.forEach(function (r) {
        var tr = el("tr");
        r.c.forEach(function (cell, i) {
          var cls = (spec.columns[i].num ? "num" : "") + (spec.columns[i].wrap ? " wrap" : "");
          var td = el("td", cls ? { "class": cls.trim() } : {});
          if (cell.length > 2 && cell[2]) td.appendChild(el("a", { href: cell[2] }, cell[1]));
          else if (i === 0 && r.h) td.appendChild(el("a", { href: r.h, "class": "row-link" }, cell[1]));
          else td.textContent = cell[1];
          tr.appendChild(td);
        });
        if (r.h) {
          tr.className = "clickable";
          tr.addEventListener("click", function (ev) { if (ev.target.tagName !== "A") window.location.href = r.h; });
        }
        tbody.appendChild(tr);
      });
      count.textContent = "共 " + rows.length + " 行";
      where.textContent = "第 " + (state.page + 1) + " / " + pages + " 页";
      pager.style.display = pages > 1 ? "" : "none";
      prev.disabled = state.page === 0; next.disabled = state.page >= pages - 1;
    }
    draw();
    // printing shows every row, not the current page
    window.addEventListener("beforeprint", function () { state.all = true; draw(); });
    window.addEventListener("afterprint", function () { state.all = false; draw(); });
  }

  function setupChart(box) {
    var spec = readJson(box.getAttribute("data-chart") + "-spec");
    var xi = 0, cats = [], catIndex = {};
    spec.rows.forEach(function (r) {
      var k = String(r[xi]);
      if (!(k in catIndex)) { catIndex[k] = cats.length; cats.push(r[xi]); }
    });
    var series = [];
    function add(name, yi, match) {
      var data = cats.map(function () { return null; });
      spec.rows.forEach(function (r) {
        if (match && !match(r)) return;
        var v = r[yi];
        if (v === null) return;
        var i = catIndex[String(r[xi])];
        data[i] = (data[i] || 0) + v;    // duplicate x within a series adds up
      });
      var s = { name: name, type: spec.kind === "area" ? "line" : spec.kind, data: data };
      if (spec.kind === "area") s.areaStyle = {};
      if (spec.stacked || spec.kind === "area") s.stack = "total";
      if (spec.kind !== "bar") s.symbolSize = 6;
      series.push(s);
    }
    if (spec.series) {
      var si = spec.columns.length - 1, names = [];
      spec.rows.forEach(function (r) { if (names.indexOf(r[si]) < 0) names.push(r[si]); });
      names.forEach(function (n) { add(String(n), 1, function (r) { return r[si] === n; }); });
    } else {
      spec.y.forEach(function (y, k) { add(y, 1 + k); });
    }
    var catAxis = {
      type: "category", data: cats, name: spec.xAxisTitle || "",
      axisLabel: { formatter: function (v) { return spec.xFmt ? fmt(v, spec.xFmt) : v; } }
    };
    var valAxis = {
      type: "value", name: spec.yAxisTitle || "",
      axisLabel: { formatter: function (v) { return fmt(v, spec.yFmt); } }
    };
    var option = {
      animation: false,
      color: ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#84cc16", "#ec4899"],
      grid: { left: 12, right: 24, top: series.length > 1 ? 36 : 16, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return fmt(v, spec.yFmt); } },
      legend: series.length > 1 ? { top: 0 } : { show: false },
      xAxis: spec.swapXY ? valAxis : catAxis,
      yAxis: spec.swapXY ? catAxis : valAxis,
      series: series
    };
    var chart = window.echarts.init(box, null, { renderer: "svg" });
    chart.setOption(option);
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function setupHeader() {
    var run = window.opscenterRun || {};
    document.querySelectorAll("[data-run]").forEach(function (d) {
      d.textContent = run[d.getAttribute("data-run")] || "";
    });
    var q = document.querySelector(".quality");
    if (q) q.classList.add(run.quality_ok ? "ok" : "bad");
    var toggle = document.querySelector(".nav-toggle");
    if (toggle) toggle.addEventListener("click", function () {
      var open = document.body.classList.toggle("nav-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  /* Tables, charts and collapsible blocks inside `root` (the page, or a template page's body). */
  function setupContent(root) {
    root.querySelectorAll("[data-since]").forEach(function (d) {
      d.textContent = fmt(daysSince(d.getAttribute("data-since")), JSON.parse(d.getAttribute("data-fmt")));
    });
    root.querySelectorAll("[data-table]").forEach(setupTable);
    root.querySelectorAll("[data-chart]").forEach(setupChart);
    // a chart drawn inside a closed <details> has no size yet: resize it when opened
    root.querySelectorAll("details").forEach(function (d) {
      d.addEventListener("toggle", function () {
        d.querySelectorAll("[data-chart]").forEach(function (c) {
          var inst = window.echarts.getInstanceByDom(c);
          if (inst) inst.resize();
        });
      });
    });
  }
  function ready() { document.documentElement.setAttribute("data-ready", "1"); }

  /* A template page's shell (site.py): the key comes from the URL (?<param>=<key>), its rendered
     body from data/<key>.js, loaded with <script src> (fetch() of file:// is blocked). */
  function loadKeyPage(box) {
    var param = box.getAttribute("data-param"), name = box.getAttribute("data-name");
    var key = new URLSearchParams(window.location.search).get(param);
    function fail(text) {
      box.textContent = "";
      box.appendChild(el("div", { "class": "alert alert-warning key-missing", role: "alert" }, text));
      ready();
    }
    if (!key) return fail("缺少参数 " + param + "：请从列表或汇总页面中的链接打开" + name + "。");
    if (/[\/\\?#%\u0000-\u001f]|^\./.test(key)) return fail("未找到" + name + "：「" + key + "」不是有效的编号。");
    var missing = "未找到" + name + "：「" + key + "」不在本次发布的数据中（编号不存在或已不在统计范围内）。";
    window.opscenterKeyPage = null;
    var script = document.createElement("script");
    script.src = box.getAttribute("data-data") + encodeURIComponent(key) + ".js";
    script.onerror = function () { fail(missing); };
    script.onload = function () {
      var d = window.opscenterKeyPage;
      if (!d || d.key !== key) return fail(missing);
      document.title = d.title + " · " + document.title.split(" · ").slice(1).join(" · ");
      document.querySelector("main h1").textContent = d.title;
      box.innerHTML = d.body;
      if (d.toc.length > 1) {
        var aside = el("aside", { "class": "toc", "aria-label": "本页目录" });
        aside.appendChild(el("div", { "class": "toc-title" }, "本页目录"));
        var ul = el("ul");
        d.toc.forEach(function (t) {
          var li = el("li", { "class": "toc-h" + t[0] }), a = el("a", { href: "#" + t[1] });
          a.innerHTML = t[2];   // heading text, tags already stripped, entities escaped (page_render)
          li.appendChild(a); ul.appendChild(li);
        });
        aside.appendChild(ul);
        document.querySelector(".layout").appendChild(aside);
      }
      setupContent(box);
      ready();
    };
    document.head.appendChild(script);
  }

  window.opscenterFmt = fmt;
  window.opscenterCsv = downloadCsv;
  document.addEventListener("DOMContentLoaded", function () {
    setupHeader();
    var keyPage = document.getElementById("key-page");
    if (keyPage) return loadKeyPage(keyPage);
    setupContent(document);
    ready();
  });
})();
