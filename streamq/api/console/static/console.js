/* streamq console: live refresh over server-sent events, paused while the tab is hidden,
   and confirmations for destructive forms. No inline script: the CSP forbids it. */
(function () {
  "use strict";
  var body = document.body;
  var url = body.getAttribute("data-live");
  var source = null;
  var last = "";

  function refresh() {
    var regions = document.querySelectorAll("[data-refresh]");
    for (var i = 0; i < regions.length; i++) {
      if (window.htmx) { window.htmx.trigger(regions[i], "refresh"); }
    }
  }

  function open() {
    if (source || !url || !window.EventSource) { return; }
    var target = url + (last ? (url.indexOf("?") < 0 ? "?" : "&") + "last=" + encodeURIComponent(last) : "");
    source = new EventSource(target);
    source.addEventListener("change", function (event) {
      if (event.lastEventId) { last = event.lastEventId; }
      body.setAttribute("data-live-state", "updated");
      refresh();
    });
    source.addEventListener("open", function () { body.setAttribute("data-live-state", "open"); });
  }

  function close() {
    if (source) { source.close(); source = null; }
    body.setAttribute("data-live-state", "paused");
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { close(); } else { open(); refresh(); }
  });
  if (!document.hidden) { open(); }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  }, true);

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-check-all]");
    if (!button) { return; }
    var boxes = document.querySelectorAll("input[name=job_id]");
    var all = Array.prototype.every.call(boxes, function (b) { return b.checked; });
    Array.prototype.forEach.call(boxes, function (b) { b.checked = !all; });
  });
})();
