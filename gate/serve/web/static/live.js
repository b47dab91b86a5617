// Live lanes: fetch the lanes fragment every few seconds and swap it in; no library, no build step.
(function () {
  "use strict";
  var box = document.getElementById("live");
  if (!box) { return; }
  var src = box.getAttribute("data-src");
  var every = parseInt(box.getAttribute("data-every"), 10) || 3000;
  var stamp = document.getElementById("updated");
  function refresh() {
    if (document.hidden) { return; }
    fetch(src, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.redirected || r.status === 401) { window.location.reload(); return null; }  // logged out
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (html === null) { return; }
        box.innerHTML = html;
        var lanes = document.getElementById("lanes");
        if (!lanes) { return; }
        if (stamp) { stamp.textContent = "updated " + lanes.getAttribute("data-updated").slice(11); }
        var inside = document.getElementById("inside-count"), review = document.getElementById("review-count");
        if (inside) { inside.textContent = lanes.getAttribute("data-inside") + " inside"; }
        if (review) {
          review.textContent = lanes.getAttribute("data-review");
          review.hidden = review.textContent === "0";
        }
      })
      .catch(function () { if (stamp) { stamp.textContent = "connection lost: retrying"; } });
  }
  window.setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
})();
