// EGSU TEK console: small progressive enhancement. Every page works without it.
(function () {
  "use strict";

  function drawCharts() {
    if (!window.Plotly) return;
    document.querySelectorAll(".plot[data-figure]").forEach(function (el) {
      var src = document.getElementById(el.dataset.figure);
      if (!src) return;
      var fig = JSON.parse(src.textContent);
      Plotly.newPlot(el, fig.data, fig.layout, {
        responsive: true, displaylogo: false,
        modeBarButtonsToRemove: ["lasso2d", "select2d", "toggleSpikelines"],
      });
    });
  }

  // Filters whose selects apply at once.
  function autosubmit() {
    document.querySelectorAll("form[data-autosubmit] select").forEach(function (s) {
      s.addEventListener("change", function () { s.form.submit(); });
    });
  }

  // The live alarm list: new and changed alarms arrive over server-sent events.
  function liveAlarms() {
    var badge = document.getElementById("live-status");
    var table = document.getElementById("alarm-table");
    if (!badge || !table || !window.EventSource) return;
    var es = new EventSource(badge.dataset.liveUrl);
    var lang = document.documentElement.lang;
    var terms = JSON.parse((document.getElementById("alarm-terms") || {}).textContent || "{}");
    function name(kind, code) { return (terms[kind] && terms[kind][code]) || code; }
    // dd.mm.yyyy hh:mm in Kazakhstan time (UTC+05:00), as the server writes it
    function localTime(iso) {
      var t = Date.parse(iso);
      if (isNaN(t)) return "";
      var d = new Date(t + 5 * 3600 * 1000);
      function p(n) { return (n < 10 ? "0" : "") + n; }
      return p(d.getUTCDate()) + "." + p(d.getUTCMonth() + 1) + "." + d.getUTCFullYear() +
        " " + p(d.getUTCHours()) + ":" + p(d.getUTCMinutes());
    }
    es.addEventListener("unavailable", function () { badge.classList.add("off"); es.close(); });
    es.onerror = function () { badge.classList.add("off"); };
    es.onopen = function () { badge.classList.remove("off"); };
    es.onmessage = handle;
    es.addEventListener("ready", function () { badge.classList.remove("off"); });
    ["raised", "reopened", "acknowledged", "cleared", "closed", "shelved", "unshelved",
     "escalated", "flapping"].forEach(function (t) {
      es.addEventListener(t, handle);
    });
    function handle(ev) {
      var data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      var a = data.alarm || data;
      if (!a || !a.id) return;
      var tbody = table.tBodies[0];
      var empty = tbody.querySelector(".empty-row");
      if (empty) empty.remove();
      var row = tbody.querySelector('tr[data-alarm="' + a.id + '"]');
      if (!row) {
        row = tbody.insertRow(0);
        row.dataset.alarm = a.id;
        for (var i = 0; i < 6; i++) row.insertCell();
      }
      row.className = "sev-" + a.severity + " fresh";
      var msg = (a.message && (a.message[lang] || a.message.ru)) || a.kind;
      row.cells[0].innerHTML = '<span class="sev"></span>';
      row.cells[0].firstChild.textContent = name("severity", a.severity);
      row.cells[1].innerHTML = "<a></a>";
      row.cells[1].firstChild.href = "/alarms/" + encodeURIComponent(a.id);
      row.cells[1].firstChild.textContent = msg;
      row.cells[2].textContent = a.point_code || a.object_id || "";
      row.cells[2].className = "mono";
      row.cells[3].textContent = name("region", a.region_kato || "") || "";
      row.cells[4].textContent = localTime(a.raised_at);
      row.cells[5].innerHTML = '<span class="st st-' + a.state + '"></span>';
      row.cells[5].firstChild.textContent = name("state", a.state);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    autosubmit();
    liveAlarms();
  });
  window.addEventListener("load", drawCharts);
})();
