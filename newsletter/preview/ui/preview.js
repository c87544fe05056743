// The issue preview: loads the four views, and loads them again (keeping
// each one's scroll position) when the server says the files changed and this
// issue's digest (of all its outputs) is not the one on screen: the version also
// moves for changes to other issues, which this page does not show. Every state
// it reads is handed on as a "newsletter:state" event (the desk's panel follows
// the file's own digest, which moves for edits no view shows, such as comments).
(function () {
  "use strict";
  var frames = Array.prototype.slice.call(document.querySelectorAll("iframe[data-src]"));
  var overlay = document.getElementById("overlay");
  var size = document.getElementById("size");
  var dark = document.getElementById("dark");
  var noImages = document.getElementById("no-images");
  var panes = document.getElementById("panes");
  var clip = Number(document.body.getAttribute("data-clip"));
  var subject = document.querySelector(".bar .subject");
  var version = null;
  var digest = null;  // of the issue on screen (state.json's digest)
  // when each version was on screen: read by the tests and bench/preview.py
  window.newsletterPreview = { painted: [], version: null };

  function address(frame, v) {
    var query = ["v=" + v];
    if (dark.checked) query.push("dark=1");
    if (noImages.checked) query.push("images=0");
    // the two email views at their own addresses: Chromium holds back a request for
    // an address already being fetched until that one is answered (its cache lock)
    if (frame.classList.contains("w375")) query.push("at=375");
    return frame.getAttribute("data-src") + "?" + query.join("&");
  }

  // one pending reload per view: a save during a reload takes its place and
  // keeps the scroll position read before the first one began
  var pending = new Map();

  function load(frame, v) {
    var record = pending.get(frame);
    if (!record) {
      record = { x: 0, y: 0 };
      try { record.x = frame.contentWindow.scrollX; record.y = frame.contentWindow.scrollY; } catch (e) { /* not loaded yet */ }
    }
    pending.set(frame, { x: record.x, y: record.y, version: v });
    frame.src = address(frame, v);
  }

  // a view is shown once laid out: the HTML views say so themselves (before
  // their pictures and players load), the text view by loading
  function shown(frame, search) {
    var record = pending.get(frame);
    if (!record) return;
    // a page that was replaced before it finished may still say it is ready
    if (search !== undefined && search.indexOf("v=" + record.version + "&") !== 1 &&
        search !== "?v=" + record.version) return;
    pending.delete(frame);
    try { frame.contentWindow.scrollTo(record.x, record.y); } catch (e) { /* nothing to restore */ }
    var last = pending.size === 0;
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        window.newsletterPreview.painted.push({
          version: record.version, view: frame.getAttribute("data-src"),
          at: performance.timeOrigin + performance.now()
        });
        // every view is on screen: the desk asks for what it held back (its findings)
        if (last) document.dispatchEvent(new CustomEvent("newsletter:shown"));
      });
    });
  }

  window.addEventListener("message", function (event) {
    if (!event.data || event.data.newsletterPreview !== "ready") return;
    frames.forEach(function (frame) {
      if (frame.contentWindow === event.source) shown(frame, String(event.data.search));
    });
  });
  frames.forEach(function (frame) {
    frame.addEventListener("load", function () { shown(frame); });
  });

  function showError(error) {
    overlay.querySelector("h2").textContent = error.title;
    var list = overlay.querySelector("ol");
    list.textContent = "";
    error.problems.forEach(function (problem) {
      var item = document.createElement("li");
      var where = document.createElement("code");
      where.textContent = problem.where;
      item.appendChild(where);
      item.appendChild(document.createTextNode(
        " " + (problem.field ? problem.field + ": " : "") + problem.message));
      if (problem.hint) {
        var hint = document.createElement("div");
        hint.className = "hint";
        hint.textContent = "hint: " + problem.hint;
        item.appendChild(hint);
      }
      list.appendChild(item);
    });
    overlay.hidden = false;
  }

  function show(state, v) {
    window.newsletterPreview.version = v;
    window.newsletterPreview.state = state;
    document.dispatchEvent(new CustomEvent("newsletter:state", { detail: state }));
    if (state.digest === digest) return;  // nothing this page shows changed
    digest = state.digest;
    subject.textContent = state.subject;
    document.title = "Desk · " + state.subject;
    if (state.error) {
      showError(state.error);
      return;
    }
    overlay.hidden = true;
    var kb = state.email_bytes / 1024;
    size.textContent = "email " + kb.toFixed(1) + " KB of " + (clip / 1024) + " KB";
    size.className = state.email_bytes > clip ? "size over" : "size";
    frames.forEach(function (frame) { load(frame, v); });
  }

  function refresh(v) {
    fetch("state.json?v=" + v, { cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("the preview has no issue here any more");
        return response.json();
      })
      .then(function (state) { if (v === version) show(state, v); })
      .catch(function (error) {
        digest = null;  // whatever comes back next is news
        showError({ title: "Cannot show this issue",
                    problems: [{ where: "", field: "", message: String(error.message || error),
                                 hint: "go back to all issues" }] });
      });
  }

  new EventSource("/__events").onmessage = function (event) {
    var v = Number(event.data);
    if (v !== version) { version = v; refresh(v); }
  };

  [dark, noImages].forEach(function (box) {
    box.addEventListener("change", function () {
      frames.forEach(function (frame) { load(frame, version); });
    });
  });
  document.querySelectorAll(".views button").forEach(function (button) {
    button.addEventListener("click", function () {
      panes.setAttribute("data-view", button.getAttribute("data-view"));
      document.querySelectorAll(".views button").forEach(function (other) {
        other.setAttribute("aria-pressed", String(other === button));
      });
    });
  });
})();
