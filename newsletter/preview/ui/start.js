// The list of issues follows the files: a new version reloads it if the list it
// shows changed (the version also moves for a change to an issue, which this page
// does not show).
(function () {
  "use strict";
  var first = null;
  var shown = document.body.getAttribute("data-digest");
  new EventSource("/__events").onmessage = function (event) {
    if (first === null) { first = event.data; return; }
    if (event.data === first) return;
    fetch("/state.json", { cache: "no-store" })
      .then(function (response) { return response.json(); })
      .then(function (state) { if (state.digest !== shown) location.reload(); })
      .catch(function () { location.reload(); });
  };
})();
