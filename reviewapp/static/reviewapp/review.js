/* Reviewer keyboard shortcuts and lease renewal. Plain JavaScript, no build step.
 * Every action is an ordinary form post, so the pages work without this file. */
(function () {
  "use strict";

  function byId(id) { return document.getElementById(id); }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function isTyping(target) {
    return target && target.closest && target.closest("input, textarea, select, [contenteditable]");
  }

  var submitted = false;
  function submit(id) {
    var form = byId(id);
    if (!form || submitted) { return false; }
    submitted = true;
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
    return true;
  }

  function focusField(id) {
    var field = byId(id);
    if (!field) { return false; }
    var form = field.closest("form");
    if (form) { form.classList.add("open"); }
    field.focus();
    if (field.select) { field.select(); }
    return true;
  }

  var help = byId("help");
  function toggleHelp(show) {
    if (!help) { return false; }
    help.hidden = show === undefined ? !help.hidden : !show;
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) { return; }
    if (event.key === "Escape") {
      if (isTyping(event.target)) { event.target.blur(); }
      toggleHelp(false);
      return;
    }
    if (isTyping(event.target)) { return; }
    var handled = false;
    switch (event.key) {
      case "a": handled = submit("form-approve"); break;
      case "o": handled = focusField("override-output"); break;
      case "r": handled = focusField("reject-comment"); break;
      case "e": handled = focusField("escalate-comment"); break;
      case "n": handled = submit("form-next") || submit("form-start"); break;
      case "?": handled = toggleHelp(); break;
    }
    if (handled) { event.preventDefault(); }
  });

  // Lets tests (and curious people) know the shortcuts are live.
  document.documentElement.dataset.shortcuts = "ready";

  if (help) {
    help.addEventListener("click", function (event) {
      if (event.target === help) { toggleHelp(false); }
    });
  }

  // Open the form that came back with an error, with the cursor in it.
  var invalid = document.querySelector("[aria-invalid=true]");
  if (invalid) { invalid.focus(); }

  // Lease: count down, and renew while the page is open.
  var lease = byId("lease");
  if (!lease || lease.dataset.holds !== "1") { return; }
  var left = parseInt(lease.dataset.secondsLeft, 10) || 0;
  var every = (parseInt(lease.dataset.every, 10) || 60) * 1000;
  var shown = byId("lease-left");

  function show() {
    if (!shown) { return; }
    var m = Math.floor(left / 60), s = left % 60;
    shown.textContent = m + ":" + (s < 10 ? "0" : "") + s;
  }

  function lost() {
    var banner = byId("lease-lost");
    if (banner) { banner.hidden = false; }
    document.querySelectorAll(".action-form button").forEach(function (b) { b.disabled = true; });
    clearInterval(renewTimer);
  }

  function renew() {
    fetch(lease.dataset.renewUrl, {
      method: "POST",
      headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "fetch" },
      credentials: "same-origin"
    }).then(function (response) {
      if (response.status === 409 || response.status === 404) { lost(); return null; }
      return response.ok ? response.json() : null;
    }).then(function (body) {
      if (body && typeof body.seconds_left === "number") { left = body.seconds_left; show(); }
    }).catch(function () { /* a blip: the next tick tries again */ });
  }

  show();
  setInterval(function () { if (left > 0) { left -= 1; show(); } }, 1000);
  var renewTimer = setInterval(renew, every);
}());
