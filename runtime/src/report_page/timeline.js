// Draws the run's timeline from the JSON in #timeline-data into the inline <svg id="chart">.
// Text from the run is only ever set with textContent, never parsed as markup.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("timeline-data").textContent);
  var svg = document.getElementById("chart");
  var holder = document.getElementById("timeline");
  if (!data || !svg) { return; }
  var NS = svg.namespaceURI;
  // Tableau 10 without its red, which marks failures.
  var PALETTE = ["#4e79a7", "#f28e2b", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
                 "#ff9da7", "#9c755f", "#bab0ac", "#17becf", "#8c6d31", "#393b79"];
  var FAILED = "#d1242f";
  function colour(app) { return PALETTE[app % PALETTE.length]; }

  var LABEL = 96, RIGHT = 16, AXIS = 26, PAD = 2;
  var lanes = Math.max(data.lanes, 1);
  var laneH = lanes <= 12 ? 26 : Math.max(5, Math.floor(420 / lanes));
  var bins = data.bins;
  var notRun = data.cached.length > 0 || (bins && bins.cached.length > 0) ||
    data.failed.some(function (f) { return f.lane === null; });
  var span = data.span > 0 ? data.span : 1;
  var view = [0, span];

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    for (var key in attrs) { node.setAttribute(key, attrs[key]); }
    if (parent) { parent.appendChild(node); }
    return node;
  }
  function tip(node, text) { el("title", {}, node).textContent = text; }
  function secs(t) { return t < 10 ? t.toFixed(4) : t.toFixed(2); }

  // The legend, and the swatches of the per-app table.
  var legend = document.getElementById("legend");
  data.apps.forEach(function (name, i) {
    var item = document.createElement("span");
    var sw = document.createElement("i");
    sw.className = "swatch";
    sw.style.background = colour(i);
    item.appendChild(sw);
    item.appendChild(document.createTextNode(name));
    legend.appendChild(item);
  });
  [["cached", "resolved without running (cached)"], ["failed", "failed"]].forEach(function (k) {
    var item = document.createElement("span");
    var sw = document.createElement("i");
    sw.className = "swatch " + k[0];
    item.appendChild(sw);
    item.appendChild(document.createTextNode(k[1]));
    legend.appendChild(item);
  });
  Array.prototype.forEach.call(document.querySelectorAll(".swatch[data-app]"), function (sw) {
    var i = data.apps.indexOf(sw.getAttribute("data-app"));
    if (i >= 0) { sw.style.background = colour(i); }
  });

  function niceStep(range) {
    var raw = range / 8, pow = Math.pow(10, Math.floor(Math.log10(raw)));
    var m = raw / pow;
    return pow * (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10);
  }

  function draw() {
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    var width = Math.max(holder.clientWidth, 480);
    var plotW = width - LABEL - RIGHT;
    var rows = lanes + (notRun ? 1 : 0);
    var height = AXIS + rows * laneH + 8;
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("height", height);
    var t0 = view[0], t1 = view[1], k = plotW / (t1 - t0);
    function x(t) { return LABEL + (t - t0) * k; }
    function laneY(i) { return AXIS + i * laneH; }
    var marks = 0;

    var back = el("g", {}, svg);
    for (var i = 0; i < rows; i++) {
      el("rect", { "class": "lane-bg", x: 0, y: laneY(i), width: width, height: laneH,
                   fill: i % 2 ? "#f6f8fa" : "#ffffff" }, back);
    }
    var axis = el("g", { "class": "axis" }, svg);
    var step = niceStep(t1 - t0);
    var digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    for (var t = Math.ceil(t0 / step) * step; t <= t1 + 1e-12; t += step) {
      el("line", { "class": "grid", x1: x(t), x2: x(t), y1: AXIS - 4, y2: height - 8 }, axis);
      var label = el("text", { x: x(t), y: AXIS - 9, "text-anchor": "middle" }, axis);
      label.textContent = t.toFixed(digits) + " s";
    }
    var every = Math.ceil(12 / laneH);
    for (var w = 0; w < lanes; w += every) {
      var name = el("text", { "class": "lane-label", x: 8, y: laneY(w) + laneH / 2 + 4 }, svg);
      name.textContent = "worker " + w;
    }
    if (notRun) {
      var nr = el("text", { "class": "lane-label", x: 8, y: laneY(lanes) + laneH / 2 + 4 }, svg);
      nr.textContent = "not run";
    }

    var clip = el("clipPath", { id: "plot" }, el("defs", {}, svg));
    el("rect", { x: LABEL, y: 0, width: plotW, height: height }, clip);
    var plot = el("g", { "clip-path": "url(#plot)" }, svg);
    function visible(a, b) { return b >= t0 && a <= t1; }
    function bar(lane, a, b, fill, cls) {
      var bh = Math.max(laneH - 2 * PAD, 2), bw = Math.max((b - a) * k, 1);
      var r = el("rect", { "class": cls, x: x(a), y: laneY(lane) + (laneH - bh) / 2,
                           width: bw, height: bh, fill: fill }, plot);
      // Back-to-back tasks stay apart once they are wide enough to show an edge.
      if (bw >= 4 && cls === "run") { r.setAttribute("stroke", "#fff"); r.setAttribute("stroke-width", "0.5"); }
      marks++;
      return r;
    }
    function tick(a, fill, cls, tall) {
      var h = tall ? laneH - 2 : (laneH - 2 * PAD) * 0.7;
      var r = el("rect", { "class": cls, x: x(a) - 0.75, y: laneY(lanes) + (laneH - h) / 2,
                           width: 1.5, height: h, fill: fill }, plot);
      marks++;
      return r;
    }

    if (!bins) {
      data.runs.forEach(function (r) {
        if (!visible(r[1], r[2])) { return; }
        tip(bar(r[0], r[1], r[2], colour(r[3]), "run"),
            "task " + r[4] + " · " + data.apps[r[3]] + "\n" + secs(r[1]) + "–" + secs(r[2]) +
            " s (" + secs(r[2] - r[1]) + " s) on worker " + r[0]);
      });
      data.cached.forEach(function (c) {
        if (!visible(c[0], c[0])) { return; }
        var m = tick(c[0], colour(c[1]), "cached", false);
        m.setAttribute("opacity", "0.75");
        tip(m, "task " + c[2] + " · " + data.apps[c[1]] + "\nresolved without running at " +
            secs(c[0]) + " s");
      });
    } else {
      var bw = bins.width;
      bins.busy.forEach(function (lane, li) {
        lane.forEach(function (b) {
          var a = b[0] * bw;
          if (!visible(a, a + bw)) { return; }
          var r = bar(li, a, a + bw, colour(b[2]), "bin");
          r.setAttribute("opacity", (0.15 + 0.85 * b[1] / 1000).toFixed(3));
          tip(r, "worker " + li + ", " + secs(a) + "–" + secs(a + bw) + " s: busy " +
              (b[1] / 10).toFixed(1) + "%, mostly " + data.apps[b[2]]);
        });
      });
      var most = bins.cached.reduce(function (m, c) { return Math.max(m, c[1]); }, 1);
      bins.cached.forEach(function (c) {
        var a = c[0] * bw;
        if (!visible(a, a + bw)) { return; }
        var h = Math.max(2, (laneH - 2 * PAD) * c[1] / most);
        var r = el("rect", { "class": "cached", x: x(a), y: laneY(lanes) + laneH - PAD - h,
                             width: Math.max(bw * k, 1), height: h, fill: "#8c959f" }, plot);
        marks++;
        tip(r, c[1] + " task(s) resolved without running, " + secs(a) + "–" + secs(a + bw) + " s");
      });
    }
    data.failed.forEach(function (f) {
      var text = "task " + f.id + " · " + data.apps[f.app] + " FAILED\n" + f.error;
      if (f.lane !== null && f.start !== null) {
        if (!visible(f.start, f.end)) { return; }
        tip(bar(f.lane, f.start, f.end, FAILED, "failed"), text + "\n" + secs(f.start) + "–" +
            secs(f.end) + " s on worker " + f.lane);
      } else if (visible(f.end, f.end)) {
        tip(tick(f.end, FAILED, "failed", true), text + "\nat " + secs(f.end) + " s");
      }
    });
    svg.setAttribute("data-marks", marks);
    document.getElementById("window").textContent = (t0 === 0 && t1 === span) ? "" :
      "showing " + secs(t0) + "–" + secs(t1) + " s of " + secs(span) + " s";
    document.getElementById("reset").disabled = t0 === 0 && t1 === span;
    return { x0: LABEL, plotW: plotW, width: width };
  }

  // A zoomed view is kept in the address (#t=FROM-TO, seconds), so it can be shared or reloaded.
  var m = /^#t=([0-9.eE+-]+)-([0-9.eE+-]+)$/.exec(window.location.hash);
  if (m) {
    var a = Math.max(parseFloat(m[1]), 0), b = Math.min(parseFloat(m[2]), span);
    if (isFinite(a) && isFinite(b) && b > a) { view = [a, b]; }
  }
  function remember() {
    var whole = view[0] === 0 && view[1] === span;
    var url = window.location.pathname + window.location.search +
      (whole ? "" : "#t=" + view[0].toFixed(6) + "-" + view[1].toFixed(6));
    try { window.history.replaceState(null, "", url); } catch (e) { /* a file: URL may refuse */ }
  }
  var geometry = draw();
  var drag = null;
  function at(ev) {
    var box = svg.getBoundingClientRect();
    return (ev.clientX - box.left) * geometry.width / box.width;
  }
  svg.addEventListener("mousedown", function (ev) {
    var px = at(ev);
    if (px < geometry.x0) { return; }
    drag = { from: px, box: el("rect", { "class": "selection", x: px, y: 0, width: 0,
                                         height: svg.getAttribute("height") }, svg) };
    ev.preventDefault();
  });
  window.addEventListener("mousemove", function (ev) {
    if (!drag) { return; }
    var px = Math.min(Math.max(at(ev), geometry.x0), geometry.x0 + geometry.plotW);
    drag.box.setAttribute("x", Math.min(px, drag.from));
    drag.box.setAttribute("width", Math.abs(px - drag.from));
    drag.to = px;
  });
  window.addEventListener("mouseup", function () {
    if (!drag) { return; }
    var d = drag; drag = null;
    if (d.to === undefined || Math.abs(d.to - d.from) < 4) { d.box.remove(); return; }
    var toT = function (px) { return view[0] + (px - geometry.x0) / geometry.plotW * (view[1] - view[0]); };
    var a = toT(Math.min(d.from, d.to)), b = toT(Math.max(d.from, d.to));
    view = [a, Math.max(b, a + span * 1e-9)];
    geometry = draw();
    remember();
  });
  document.getElementById("reset").addEventListener("click", function () {
    view = [0, span];
    geometry = draw();
    remember();
  });
  var pending = 0;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () { geometry = draw(); }, 100);
  });
})();
