// jobpilot web UI. The pages work without this script; it adds what a plain page cannot do:
// keep the browser session alive while a page is open, reload a page that asked for it, and
// ask before an irreversible action. Served from our origin, as the Content-Security-Policy
// requires (no inline script anywhere).
"use strict";
(function () {
  var body = document.body;
  // A refresh cookie works once: two tabs renewing with the same one at the same moment would
  // look like a stolen token and end the session, so renewals take turns across tabs.
  var renew = function () {
    var call = function () {
      return fetch("/api/v1/auth/web/refresh", { method: "POST", credentials: "same-origin" });
    };
    return navigator.locks ? navigator.locks.request("jobpilot-session-renewal", call) : call();
  };
  var renewAfter = Number(body.dataset.renewAfter || 0);
  if (renewAfter > 0) {
    setInterval(renew, renewAfter * 1000);
  }
  var autoRefresh = Number(body.dataset.autoRefresh || 0);
  if (autoRefresh > 0) {
    setTimeout(function () { location.reload(); }, autoRefresh * 1000);
  }
  // On the sign-in page: a browser whose access cookie ran out may still hold a refresh cookie.
  if (body.dataset.tryRenew === "true") {
    renew().then(function (response) {
      if (response.ok) { location.replace(body.dataset.next || "/ui/admin/tasks"); }
    }, function () {});
  }
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });
})();
