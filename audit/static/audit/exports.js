// Polls an export's status and moves its progress bar; reloads the page when it is done so
// the manifest and the download links appear. No build step, no dependencies.
(function () {
  var box = document.querySelector("[data-export-status-url]");
  if (!box) return;
  var url = box.getAttribute("data-export-status-url");
  var bar = box.querySelector("progress");
  var label = box.querySelector("[data-progress-label]");
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        bar.value = s.progress_percent;
        label.textContent = s.status + ": " + s.rows_done + " / " + s.rows_total + " rows (" + s.progress_percent + "%)";
        if (s.status === "done" || s.status === "failed") { window.location.reload(); return; }
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  if (box.getAttribute("data-export-finished") !== "true") poll();
})();
