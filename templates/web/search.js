// Archive search: filters the archive list as the reader types. The list is
// complete without it, and the search box only appears when this script runs.
// The index (every issue's headlines and summaries) loads on first use.
(function () {
  "use strict";
  var form = document.querySelector("form.search");
  if (!form) return;
  var box = form.querySelector("input");
  var status = form.querySelector(".search-status");
  var items = Array.prototype.slice.call(document.querySelectorAll("#archive-years li[data-slug]"));
  var texts = null;
  var announce = 0;

  function fold(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function load(then) {
    if (texts) return then();
    var script = document.createElement("script");
    script.src = form.getAttribute("data-index");
    script.onload = script.onerror = function () {
      texts = {};
      (window.newsletterSearchIndex || []).forEach(function (entry) {
        texts[entry.slug] = fold(entry.text);
      });
      then();
    };
    document.head.appendChild(script);
  }

  function filter() {
    var terms = fold(box.value).split(/\s+/).filter(Boolean);
    var shown = 0;
    items.forEach(function (item) {
      var text = texts[item.getAttribute("data-slug")] || fold(item.textContent);
      var hit = terms.every(function (term) { return text.indexOf(term) !== -1; });
      item.hidden = !hit;
      if (hit) shown += 1;
    });
    document.querySelectorAll("#archive-years section.year").forEach(function (year) {
      year.hidden = !year.querySelector("li:not([hidden])");
    });
    // said once the reader pauses, so a screen reader is not interrupted on every key
    var message = !terms.length ? "" : shown ? status.getAttribute("data-count")
      .replace("{count}", String(shown)) : status.getAttribute("data-none");
    clearTimeout(announce);
    announce = setTimeout(function () { status.textContent = message; }, 400);
  }

  form.hidden = false;
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  box.addEventListener("input", function () { load(filter); });
})();
