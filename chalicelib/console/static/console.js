// The console's progressive enhancement (issue 13): every page works without it. Vendored, no dependencies.
// - data-confirm="…" on a form: ask before submitting (erasure, archive).
// - data-copy="#id" on a button: copy that element's text to the clipboard, and say so.
// - data-poll="url" on an element: refresh its <progress> and text from the JSON at url every 2 s until done.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) { return; }
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) { return; }
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      var before = button.textContent;
      button.textContent = "已复制";
      setTimeout(function () { button.textContent = before; }, 1500);
    });
  });
  function poll(node) {
    var url = node.getAttribute("data-poll");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (job) {
        if (!job) { return; }
        var bar = node.querySelector("progress");
        if (bar && job.total) { bar.max = job.total; bar.value = job.done || 0; }
        var text = node.querySelector("[data-poll-text]");
        if (text && job.text) { text.textContent = job.text; }
        if (!job.finished) { setTimeout(function () { poll(node); }, 2000); }
        else if (node.hasAttribute("data-poll-reload")) { window.location.reload(); }
      })
      .catch(function () { setTimeout(function () { poll(node); }, 5000); });
  }
  document.querySelectorAll("[data-poll]").forEach(poll);
})();
