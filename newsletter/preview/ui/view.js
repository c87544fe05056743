// Tells the desk page this view is laid out, before its pictures and players
// have loaded (a video player can hold back the load event for a long time).
// Served as /__view.js: the views' Content-Security-Policy allows no inline script.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  if (parent !== window) {
    parent.postMessage({ newsletterPreview: "ready", search: location.search }, location.origin);
  }
});
