// The editor's desk beside the live preview: the candidates (a grid, paged), the
// issue's panel (its slots as ordered lists) and its findings. Every change to the
// issue is a POST that carries the digest of the panel it was made against and the
// page's token; the server edits the YAML file, and the preview repaints from the
// file as it does for a text editor's save. Nothing from a feed ever becomes markup
// here: every text goes in with textContent, every address is checked to be http(s).
(function () {
  "use strict";

  var SLOTS = ["lead", "lead.body", "catch_up", "deep_dives", "sponsors"];
  var SLOT_NAMES = { "lead": "Lead", "lead.body": "Lead's body", "catch_up": "Catch-up",
                     "deep_dives": "Deep dives", "sponsors": "Sponsors" };
  var SAID_SLOT = { "lead": "the lead", "lead.body": "the lead's body", "catch_up": "catch-up",
                    "deep_dives": "deep dives", "sponsors": "sponsors" };
  var PICKABLE = ["lead", "catch_up", "deep_dives"];
  var MOVABLE = ["catch_up", "deep_dives"];
  var EDITABLE_KINDS = ["story", "inline", "placeholder"];
  var PAGE = 50;
  var SEARCH_DELAY = 250;  // ms after the last keystroke
  var STORY_TYPE = "application/x-newsletter-story";
  var ITEM_TYPE = "application/x-newsletter-item";

  var body = document.body;
  var slug = body.getAttribute("data-slug");
  var writable = body.getAttribute("data-writable") === "1";
  var token = document.querySelector('meta[name="newsletter-token"]').getAttribute("content");
  var issueApi = "/api/issues/" + encodeURIComponent(slug) + "/";

  function $(id) { return document.getElementById(id); }
  var grid = $("candidate-grid");
  var moreButton = $("more");
  var countLine = $("count");
  var saidLine = $("said");
  var slotsBox = $("slots");
  var panelFile = $("panel-file");
  var panelError = $("panel-error");
  var findingsList = $("findings");
  var findingsStatus = $("findings-status");
  var search = $("q");
  var filters = { since: $("since"), feed: $("feed"), unused: $("unused"),
                  starred: $("starred"), skipped: $("skipped") };

  // read by the tests and the benchmark: what the desk said, and how often it loaded
  var desk = window.newsletterDesk = {
    log: [], candidateLoads: 0, panelLoads: 0, findingsLoads: 0, writes: 0,
    panel: null, findings: null
  };

  var rows = [];          // the candidates shown, in order (JSON rows)
  var total = 0;          // how many match in all
  var active = 0;         // the grid's current row
  var column = 0;         // and its current stop (0: the story, then its buttons)
  var panel = null;       // the issue as last read (its digest goes with every write)
  var activeItem = 0;     // the panel's current item, in reading order
  var loadSeq = 0;        // only the latest candidates answer is shown
  var findingsSeq = 0;
  var writing = 0;        // writes in flight: the file's digest moves under them
  var writes = Promise.resolve();  // one write at a time, each with the digest before it
  var lastFile = null;    // the file's digest the preview last saw
  var heardWhileWriting = false;  // the preview saw the file change during a write
  var shownDigest = null; // the views' digest (state.digest) the preview last showed
  var findingsTimer = 0;
  var cancelDeferredFindings = function () {};  // a check waiting for the views, called off
  var dragging = null;    // the panel item being dragged: {ref, slot}

  // --- saying what happened ----------------------------------------------------------

  function say(text, bad) {
    desk.log.push(text);
    saidLine.textContent = "";
    saidLine.className = bad ? "said bad" : "said";
    // emptied first, so the same words said twice are announced twice
    requestAnimationFrame(function () { saidLine.textContent = text; });
  }

  function problem(answer) {
    return answer.error + (answer.hint ? " (" + answer.hint + ")" : "");
  }

  // --- talking to the desk -------------------------------------------------------------

  function getJson(address) {
    return fetch(address, { cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) throw new Error(problem(data));
          return data;
        });
      });
  }

  function post(address, data) {
    return fetch(address, {
      method: "POST", cache: "no-store", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Newsletter-Token": token },
      body: JSON.stringify(data)
    }).then(function (response) {
      return response.json()
        .catch(function () { return { error: "the desk answered " + response.status, hint: "" }; })
        .then(function (answer) { answer.status = response.status; return answer; });
    }, function (error) {
      return { status: 0, error: "the desk cannot be reached", hint: String(error.message || error) };
    });
  }

  function refuseReadOnly() {
    if (writable) return false;
    say("the desk is read-only when served to the network: start it with --allow-writes " +
        "to edit from other computers", true);
    return true;
  }

  // One change to the issue file: queued behind the others, sent with the digest of
  // the panel as it is when its turn comes, answered with the panel after it.
  function write(action, data) {
    if (refuseReadOnly()) return Promise.resolve(null);
    writing += 1;
    var done = writes.then(function () {
      if (panel === null) return null;
      data.digest = panel.digest;
      return post(issueApi + action, data).then(function (answer) {
        desk.writes += 1;
        if (answer.panel) showPanel(answer.panel);
        if (answer.status === 200) say(answer.said);
        else if (answer.status === 409) say(answer.said || "the file changed on disk: reloaded", true);
        else say(problem(answer), true);
        return answer;
      });
    }).then(function (answer) {
      afterWrite();
      return answer;
    }, function (error) {
      afterWrite();
      say(String(error.message || error), true);
      return null;
    });
    writes = done;
    return done;
  }

  // --- the candidates ------------------------------------------------------------------

  function candidateAddress(offset) {
    var query = ["offset=" + offset, "limit=" + PAGE];
    var words = search.value.trim();
    if (words) query.push("q=" + encodeURIComponent(words));
    if (filters.since.value) query.push("since=" + encodeURIComponent(filters.since.value));
    if (filters.feed.value) query.push("feed=" + encodeURIComponent(filters.feed.value));
    ["unused", "starred", "skipped"].forEach(function (name) {
      if (filters[name].checked) query.push(name + "=1");
    });
    return "/api/candidates?" + query.join("&");
  }

  function loadCandidates(append) {
    var seq = ++loadSeq;
    var offset = append ? rows.length : 0;
    grid.setAttribute("aria-busy", "true");
    return getJson(candidateAddress(offset)).then(function (page) {
      if (seq !== loadSeq) return;
      var hadFocus = grid.contains(document.activeElement);
      if (!append) { rows = []; active = 0; column = 0; grid.textContent = ""; }
      total = page.total;
      page.rows.forEach(function (row) {
        rows.push(row);
        grid.appendChild(makeRow(row, rows.length - 1));
      });
      grid.setAttribute("aria-rowcount", String(total));
      grid.removeAttribute("aria-busy");
      moreButton.hidden = rows.length >= total;
      showCount();
      roving(hadFocus && append);
      desk.candidateLoads += 1;
    }).catch(function (error) {
      if (seq !== loadSeq) return;
      grid.removeAttribute("aria-busy");
      say("cannot list the candidates: " + String(error.message || error), true);
    });
  }

  function showCount() {
    var words = search.value.trim();
    var text = total === 1 ? "1 story" : total.toLocaleString("en") + " stories";
    if (words) text += " match “" + words + "”";
    if (rows.length < total) text += ", " + rows.length + " shown";
    countLine.textContent = total === 0 ? "No story matches." : text + ".";
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function isWeb(address) { return /^https?:\/\//i.test(address || ""); }

  function cell(child) {
    var node = element("div", "cell act");
    node.setAttribute("role", "gridcell");
    node.appendChild(child);
    return node;
  }

  function button(className, label, hidden) {
    var node = element("button", className);
    node.type = "button";
    node.tabIndex = -1;
    if (hidden) node.appendChild(element("span", "vh", hidden));
    node.appendChild(document.createTextNode(label));
    if (!writable) node.setAttribute("aria-disabled", "true");
    return node;
  }

  function makeRow(row, index) {
    var line = element("div", "row");
    line.setAttribute("role", "row");
    line.setAttribute("aria-rowindex", String(index + 1));
    line.id = "cand-" + row.id;
    line.setAttribute("data-id", row.id);
    line.draggable = writable;

    var story = element("div", "cell story");
    story.setAttribute("role", "gridcell");
    story.tabIndex = -1;
    if (row.picture && isWeb(row.picture.src)) {
      var thumb = element("img", "thumb");
      thumb.alt = "";
      thumb.loading = "lazy";
      thumb.decoding = "async";
      thumb.referrerPolicy = "no-referrer";
      thumb.draggable = false;
      thumb.addEventListener("error", function () { thumb.remove(); });  // gone: no broken icon
      thumb.src = row.picture.src;
      story.appendChild(thumb);
    }
    var text = element("div", "text");
    text.appendChild(element("h3", "title", row.title || row.url));
    text.appendChild(element("p", "meta"));
    if (row.summary) text.appendChild(element("p", "summary", row.summary));
    story.appendChild(text);
    line.appendChild(story);

    var star = button("star", "Star");
    var skip = button("skip", "Skip");
    line.appendChild(cell(star));
    line.appendChild(cell(skip));
    line.appendChild(cell(button("pick", "lead", "Pick into the ")));
    line.appendChild(cell(button("pick", "catch-up", "Pick into ")));
    line.appendChild(cell(button("pick", "deep dives", "Pick into ")));
    var picks = line.querySelectorAll("button.pick");
    picks[0].setAttribute("data-into", "lead");
    picks[1].setAttribute("data-into", "catch_up");
    picks[2].setAttribute("data-into", "deep_dives");
    var open = element("a", "open", "Open");
    open.appendChild(element("span", "vh", " the story (a new tab)"));
    open.tabIndex = -1;
    open.target = "_blank";
    open.rel = "noopener noreferrer";
    if (isWeb(row.url)) open.href = row.url;
    line.appendChild(cell(open));
    showMarks(line, row);
    return line;
  }

  function dateText(iso) {
    if (!iso) return "";
    var when = new Date(iso);
    return isNaN(when) ? "" : when.toISOString().slice(0, 10);
  }

  // what a row says about the story: sources, date, earlier issues, this issue, marks
  function showMarks(line, row) {
    var parts = [];
    if (row.sources.length) parts.push(row.sources.join(", "));
    if (row.published) parts.push(dateText(row.published));
    if (row.used_in.length) {
      parts.push("used in " + row.used_in.map(function (use) { return "#" + use.number; }).join(", "));
    }
    var here = panel ? panel.items.filter(function (item) { return item.story === row.id; }) : [];
    if (here.length) parts.push("in this issue: " + SAID_SLOT[here[0].slot]);
    if (row.starred) parts.push("starred");
    if (row.skipped) parts.push("skipped");
    line.querySelector(".meta").textContent = parts.join(" · ");
    line.classList.toggle("starred", row.starred);
    line.classList.toggle("skipped", row.skipped);
    line.classList.toggle("here", here.length > 0);
    line.querySelector("button.star").setAttribute("aria-pressed", String(row.starred));
    line.querySelector("button.skip").setAttribute("aria-pressed", String(row.skipped));
  }

  function rowElement(index) { return grid.children[index] || null; }

  function stops(line) {
    return [line.querySelector(".story")].concat(
      Array.prototype.slice.call(line.querySelectorAll("button, a")));
  }

  // one tab stop in the grid: the current row's current stop
  function roving(focus) {
    Array.prototype.forEach.call(grid.querySelectorAll("[tabindex='0']"), function (node) {
      node.tabIndex = -1;
    });
    Array.prototype.forEach.call(grid.querySelectorAll(".row.active"), function (node) {
      node.classList.remove("active");
    });
    var line = rowElement(active);
    grid.tabIndex = line ? -1 : 0;  // an empty grid is still reachable
    if (!line) return;
    line.classList.add("active");
    var here = stops(line);
    column = Math.min(column, here.length - 1);
    here[column].tabIndex = 0;
    if (focus) {
      here[column].focus();
      here[column].scrollIntoView({ block: "nearest" });
    }
  }

  function goToRow(index) {
    if (index >= rows.length && rows.length < total) {
      loadCandidates(true).then(function () { goToRow(Math.min(index, rows.length - 1)); });
      return;
    }
    active = Math.max(0, Math.min(index, rows.length - 1));
    roving(true);
  }

  function rowIndexOf(node) {
    var line = node && node.closest ? node.closest(".row") : null;
    return line ? Array.prototype.indexOf.call(grid.children, line) : -1;
  }

  function matchesFilters(row) {
    return row.skipped === filters.skipped.checked && (!filters.starred.checked || row.starred);
  }

  function mark(index, what) {
    var row = rows[index];
    if (!row || refuseReadOnly()) return;
    var data = {};
    data[what] = !row[what];
    post("/api/candidates/" + encodeURIComponent(row.id) + "/mark", data).then(function (answer) {
      if (answer.status !== 200) { say(problem(answer), true); return; }
      var now = rows.indexOf(row);
      if (now === -1) return;
      rows[now] = answer.row;
      if (matchesFilters(answer.row)) {
        showMarks(rowElement(now), answer.row);
      } else {  // out of this list (skipped, or no longer starred): the next one is current
        var hadFocus = grid.contains(document.activeElement);
        rows.splice(now, 1);
        grid.removeChild(rowElement(now));
        total -= 1;
        renumber();
        if (active >= rows.length) active = rows.length - 1;
        column = 0;
        roving(hadFocus);
        showCount();
      }
      say(answer.said);
    });
  }

  function renumber() {
    Array.prototype.forEach.call(grid.children, function (line, index) {
      line.setAttribute("aria-rowindex", String(index + 1));
    });
    grid.setAttribute("aria-rowcount", String(total));
  }

  function leadStory() {
    if (!panel) return null;
    return panel.items.filter(function (item) {
      return item.slot === "lead" && item.kind !== "placeholder";
    })[0] || null;
  }

  function pick(index, into, replace) {
    var row = rows[index];
    if (!row) return;
    var lead = leadStory();
    if (into === "lead" && lead && lead.story !== row.id && !replace) {
      say("the lead holds “" + lead.headline + "”: Shift+L picks this story in its place", true);
      return;
    }
    write("pick", { story: row.id, into: into, replace: into === "lead" && Boolean(lead) });
  }

  grid.addEventListener("click", function (event) {
    var index = rowIndexOf(event.target);
    if (index === -1) return;
    var target = event.target.closest("button, a, .story");
    if (target) {
      active = index;
      column = Math.max(0, stops(rowElement(index)).indexOf(target));
      roving(false);
    }
    var pressed = event.target.closest("button");
    if (!pressed) return;
    if (pressed.classList.contains("star")) mark(index, "starred");
    else if (pressed.classList.contains("skip")) mark(index, "skipped");
    else if (pressed.classList.contains("pick")) {
      pick(index, pressed.getAttribute("data-into"), true);  // a click says which slot
    }
  });

  grid.addEventListener("focusin", function (event) {
    var index = rowIndexOf(event.target);
    if (index === -1 || (index === active && event.target.tabIndex === 0)) return;
    active = index;
    column = Math.max(0, stops(rowElement(index)).indexOf(event.target));
    roving(false);
  });

  grid.addEventListener("dragstart", function (event) {
    var index = rowIndexOf(event.target);
    if (index === -1 || !writable) return;
    event.dataTransfer.setData(STORY_TYPE, rows[index].id);
    event.dataTransfer.setData("text/plain", rows[index].url);
    event.dataTransfer.effectAllowed = "copy";
  });

  moreButton.addEventListener("click", function () {
    var next = rows.length;
    loadCandidates(true).then(function () { active = next; column = 0; roving(true); });
  });

  // --- filters and search ------------------------------------------------------------

  var searchTimer = null;
  var composing = false;  // typing Chinese or Japanese: search once the word is chosen

  function searchSoon() {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () { loadCandidates(false); }, SEARCH_DELAY);
  }
  search.addEventListener("compositionstart", function () { composing = true; });
  search.addEventListener("compositionend", function () { composing = false; searchSoon(); });
  search.addEventListener("input", function () { if (!composing) searchSoon(); });
  search.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.isComposing) {
      event.preventDefault();
      clearTimeout(searchTimer);
      loadCandidates(false);
    }
  });
  $("filters").addEventListener("submit", function (event) { event.preventDefault(); });
  Object.keys(filters).forEach(function (name) {
    filters[name].addEventListener("change", function () { loadCandidates(false); });
  });

  // --- the issue's panel ------------------------------------------------------------

  function loadPanel(external) {
    return getJson(issueApi + "panel").then(function (answer) {
      var changed = panel !== null && panel.digest !== answer.panel.digest;
      showPanel(answer.panel);
      if (external && changed) say("the file changed on disk: reloaded");
    }).catch(function (error) {
      say("cannot read the issue: " + String(error.message || error), true);
    });
  }

  // the preview saw the file change: reload the panel unless it is the desk's own write
  function followFile() {
    if (writing > 0) {
      heardWhileWriting = true;
      return;
    }
    if (lastFile === null || panel === null || lastFile === panel.digest) return;
    loadPanel(true);
  }

  // A write's answer carries the panel after it: the panel is read again only if
  // the preview saw the file change meanwhile (and then only if it differs).
  function afterWrite() {
    writing -= 1;
    if (writing > 0 || !heardWhileWriting) return;
    heardWhileWriting = false;
    followFile();
  }

  // The findings of a changed file are asked for once its views are on screen (or
  // after a second at most): an offline check takes the server longer than the
  // views do, and asked at once it would hold back their repaint.
  function findingsAfterViews(state) {
    cancelDeferredFindings();
    if (state.error || state.digest === shownDigest) {
      loadFindings(false);
      return;
    }
    function go() {
      cancelDeferredFindings();
      loadFindings(false);
    }
    cancelDeferredFindings = function () {
      clearTimeout(findingsTimer);
      document.removeEventListener("newsletter:shown", go);
      cancelDeferredFindings = function () {};
    };
    document.addEventListener("newsletter:shown", go);
    findingsTimer = setTimeout(go, 1000);
  }

  document.addEventListener("newsletter:state", function (event) {
    var state = event.detail;
    var file = state.file;
    if (file === lastFile) return;
    lastFile = file;
    followFile();
    findingsAfterViews(state);
    shownDigest = state.digest;
  });

  function itemNodes() {
    return Array.prototype.slice.call(slotsBox.querySelectorAll("li.item"));
  }

  function showPanel(next) {
    var focusedRef = null;
    var focused = document.activeElement;
    if (focused && slotsBox.contains(focused)) {
      var was = focused.closest("li.item");
      focusedRef = was ? was.getAttribute("data-key") : null;
    }
    if (slotsBox.querySelector("form.edit") && panel && panel.digest === next.digest) return;
    panel = next;
    desk.panel = next;
    desk.panelLoads += 1;
    showIssueWords(next.issue);
    panelFile.textContent = next.path;
    panelError.hidden = !next.error;
    panelError.textContent = next.error || "";
    slotsBox.textContent = "";
    SLOTS.forEach(function (slot) {
      var items = next.items.filter(function (item) { return item.slot === slot; });
      if (!items.length && PICKABLE.indexOf(slot) === -1) return;
      slotsBox.appendChild(makeSlot(slot, items));
    });
    Array.prototype.forEach.call(grid.children, function (line, index) {
      showMarks(line, rows[index]);
    });
    var nodes = itemNodes();
    var again = focusedRef === null ? -1 : nodes.map(function (node) {
      return node.getAttribute("data-key");
    }).indexOf(focusedRef);
    activeItem = again !== -1 ? again : Math.min(activeItem, Math.max(0, nodes.length - 1));
    itemRoving(focusedRef !== null);
  }

  function makeSlot(slot, items) {
    var section = element("section", "slot");
    section.setAttribute("data-slot", slot);
    var heading = element("h3", "", SLOT_NAMES[slot]);
    heading.id = "slot-" + slot.replace(".", "-");
    heading.appendChild(element("span", "muted", " (" + items.length + ")"));
    section.appendChild(heading);
    var list = element("ol", "items");
    list.setAttribute("data-slot", slot);
    list.setAttribute("aria-labelledby", heading.id);
    items.forEach(function (item) { list.appendChild(makeItem(item)); });
    if (!items.length) {
      list.appendChild(element("li", "empty muted", "Nothing yet: pick a story with " +
        (slot === "lead" ? "l" : slot === "catch_up" ? "c" : "d") + ", or drag one here."));
    }
    section.appendChild(list);
    return section;
  }

  function itemKey(item) { return item.slot + " " + item.ref + " " + item.position; }

  function makeItem(item) {
    var node = element("li", "item kind-" + item.kind);
    node.id = "item-" + item.line;
    node.tabIndex = -1;
    node.setAttribute("data-ref", item.ref);
    node.setAttribute("data-key", itemKey(item));
    node.setAttribute("data-slot", item.slot);
    node.setAttribute("data-line", String(item.line));
    var named = item.ref !== "";  // a text block has no story or link to name it by
    var movable = writable && named && MOVABLE.indexOf(item.slot) !== -1;
    node.draggable = movable;
    var head = element("p", "headline");
    if (item.kind !== "story") head.appendChild(element("span", "kind", item.kind));
    head.appendChild(element("strong", "", item.headline || item.url || "(no headline)"));
    if (item.headline_written) head.appendChild(element("span", "written", "your headline"));
    node.appendChild(head);
    if (item.blurb) {
      var blurb = element("p", "blurb", item.blurb);
      if (item.blurb_written) blurb.appendChild(element("span", "written", "your blurb"));
      node.appendChild(blurb);
    }
    node.appendChild(element("p", "where muted", "line " + item.line));
    var tools = element("p", "item-tools");
    if (movable) {
      tools.appendChild(itemButton("up", "Up", "Move up: "));
      tools.appendChild(itemButton("down", "Down", "Move down: "));
    }
    if (PICKABLE.indexOf(item.slot) !== -1 && EDITABLE_KINDS.indexOf(item.kind) !== -1) {
      tools.appendChild(itemButton("edit", "Edit", "Edit: "));
    }
    if (named && PICKABLE.indexOf(item.slot) !== -1 && item.kind !== "placeholder") {
      tools.appendChild(itemButton("remove", "Remove", "Remove: "));
    }
    Array.prototype.forEach.call(tools.children, function (b) {
      b.setAttribute("aria-describedby", node.id + "-name");
    });
    head.querySelector("strong").id = node.id + "-name";
    node.appendChild(tools);
    return node;
  }

  function itemButton(className, label, hidden) {
    var node = button(className, label);
    node.setAttribute("aria-label", hidden.replace(/: $/, ""));
    node.textContent = label;
    return node;
  }

  function itemRoving(focus) {
    var nodes = itemNodes();
    nodes.forEach(function (node, index) {
      var current = index === activeItem;
      node.tabIndex = current ? 0 : -1;
      node.classList.toggle("active", current);
      Array.prototype.forEach.call(node.querySelectorAll("button"), function (b) {
        b.tabIndex = current ? 0 : -1;
      });
    });
    if (focus && nodes[activeItem]) {
      nodes[activeItem].focus();
      nodes[activeItem].scrollIntoView({ block: "nearest" });
    }
  }

  function panelItem(node) {
    if (!panel || !node) return null;
    var key = node.getAttribute("data-key");
    return panel.items.filter(function (item) { return itemKey(item) === key; })[0] || null;
  }

  // what only a text editor can do to this item, said (true), or false
  function textEditorOnly(item, what) {
    if (item.ref !== "") return false;
    say("a text block is " + what + " in a text editor (line " + item.line + ")", true);
    return true;
  }

  function moveItem(node, step) {
    var item = panelItem(node);
    if (item && textEditorOnly(item, "moved")) return;
    if (!item || MOVABLE.indexOf(item.slot) === -1) {
      say("only catch-up and deep dives items have an order", true);
      return;
    }
    var count = panel.items.filter(function (other) { return other.slot === item.slot; }).length;
    var to = item.position + step;
    if (to < 1 || to > count) { say("“" + item.headline + "” is already " + (step < 0 ? "first" : "last")); return; }
    var key = item.ref;
    write("move", { story: item.ref, to: to }).then(function () { focusItemByRef(key); });
  }

  function focusItemByRef(ref) {
    var nodes = itemNodes();
    var index = nodes.map(function (node) { return node.getAttribute("data-ref"); }).indexOf(ref);
    if (index !== -1) { activeItem = index; itemRoving(true); }
  }

  function removeItem(node) {
    var item = panelItem(node);
    if (!item || textEditorOnly(item, "taken out")) return;
    var index = itemNodes().indexOf(node);
    write("unpick", { story: item.ref }).then(function () {
      activeItem = Math.max(0, Math.min(index, itemNodes().length - 1));
      itemRoving(true);
    });
  }

  // editing a headline and blurb in place: the fields hold the editor's own words
  // (empty: the story's own, shown as the placeholder)
  function editItem(node) {
    var item = panelItem(node);
    if (!item || refuseReadOnly()) return;
    if (PICKABLE.indexOf(item.slot) === -1 || EDITABLE_KINDS.indexOf(item.kind) === -1) {
      say("edit this item in a text editor (line " + item.line + ")", true);
      return;
    }
    var form = element("form", "edit");
    form.setAttribute("aria-label", "Edit “" + item.headline + "”");
    var fields = { headline: field(form, "Headline", "input", item.headline_written ? item.headline : "", item.headline) };
    if (item.slot !== "lead") {
      fields.blurb = field(form, "Blurb", "textarea", item.blurb_written ? item.blurb : "", item.blurb);
    }
    form.appendChild(element("p", "muted", "Leave a field empty to show the story's own."));
    var actions = element("p", "");
    var save = element("button", "", "Save");
    save.type = "submit";
    var cancel = element("button", "", "Cancel");
    cancel.type = "button";
    actions.appendChild(save);
    actions.appendChild(document.createTextNode(" "));
    actions.appendChild(cancel);
    form.appendChild(actions);
    node.textContent = "";
    node.draggable = false;
    node.appendChild(form);
    fields.headline.focus();
    var ref = item.ref;

    function close() { showPanel(panel); focusItemByRef(ref); }
    cancel.addEventListener("click", function () { closeEdit(close); });
    form.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); event.stopPropagation(); closeEdit(close); }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var changes = [];
      if (fields.headline.value !== (item.headline_written ? item.headline : "")) {
        changes.push(["headline", fields.headline.value]);
      }
      if (fields.blurb && fields.blurb.value !== (item.blurb_written ? item.blurb : "")) {
        changes.push(["blurb", fields.blurb.value]);
      }
      form.remove();
      if (!changes.length) { close(); return; }
      changes.reduce(function (before, change) {
        return before.then(function (answer) {
          if (answer && answer.status !== 200) return answer;
          return write("edit", { story: ref, field: change[0], value: change[1] });
        });
      }, Promise.resolve(null)).then(function () { close(); });
    });
  }

  function closeEdit(close) { var open = slotsBox.querySelector("form.edit"); if (open) open.remove(); close(); }

  var fieldCount = 0;
  function field(form, label, tag, value, shown) {
    var id = "edit-field-" + (++fieldCount);
    var wrap = element("p", "field");
    var name = element("label", "", label);
    name.htmlFor = id;
    var input = element(tag, "");
    input.id = id;
    input.value = value;
    input.placeholder = shown || "";
    if (tag === "textarea") input.rows = 4;
    wrap.appendChild(name);
    wrap.appendChild(input);
    form.appendChild(wrap);
    return input;
  }

  slotsBox.addEventListener("click", function (event) {
    var pressed = event.target.closest("button");
    var node = event.target.closest("li.item");
    if (!node || !pressed || node.querySelector("form.edit")) return;
    activeItem = itemNodes().indexOf(node);
    if (pressed.classList.contains("up")) moveItem(node, -1);
    else if (pressed.classList.contains("down")) moveItem(node, 1);
    else if (pressed.classList.contains("edit")) editItem(node);
    else if (pressed.classList.contains("remove")) removeItem(node);
  });

  slotsBox.addEventListener("focusin", function (event) {
    var node = event.target.closest("li.item");
    var index = itemNodes().indexOf(node);
    if (index !== -1 && index !== activeItem) { activeItem = index; itemRoving(false); }
  });

  // dragging: a candidate onto a slot picks it there; an item within its slot moves it
  function dropTarget(event) {
    var list = event.target.closest && event.target.closest("ol.items");
    if (!list || !writable) return null;
    var slot = list.getAttribute("data-slot");
    var types = Array.prototype.slice.call(event.dataTransfer.types || []);
    if (types.indexOf(STORY_TYPE) !== -1 && PICKABLE.indexOf(slot) !== -1) {
      return { kind: "pick", list: list, slot: slot };
    }
    if (dragging && types.indexOf(ITEM_TYPE) !== -1 && dragging.slot === slot) {
      return { kind: "move", list: list, slot: slot };
    }
    return null;
  }

  function clearDropMarks() {
    Array.prototype.forEach.call(slotsBox.querySelectorAll(".drop, .drop-before, .drop-after"),
      function (node) { node.classList.remove("drop", "drop-before", "drop-after"); });
  }

  // where in the list the pointer is: before which item (null: at the end)
  function dropBefore(list, event) {
    var items = Array.prototype.slice.call(list.querySelectorAll("li.item"));
    for (var i = 0; i < items.length; i += 1) {
      var box = items[i].getBoundingClientRect();
      if (event.clientY < box.top + box.height / 2) return items[i];
    }
    return null;
  }

  slotsBox.addEventListener("dragstart", function (event) {
    var node = event.target.closest && event.target.closest("li.item");
    if (!node || !node.draggable) return;
    dragging = { ref: node.getAttribute("data-ref"), slot: node.getAttribute("data-slot") };
    event.dataTransfer.setData(ITEM_TYPE, dragging.ref);
    event.dataTransfer.effectAllowed = "move";
  });
  slotsBox.addEventListener("dragend", function () { dragging = null; clearDropMarks(); });
  slotsBox.addEventListener("dragover", function (event) {
    var target = dropTarget(event);
    clearDropMarks();
    if (!target) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = target.kind === "pick" ? "copy" : "move";
    target.list.classList.add("drop");
    if (target.kind === "move") {
      var before = dropBefore(target.list, event);
      var items = target.list.querySelectorAll("li.item");
      if (before) before.classList.add("drop-before");
      else if (items.length) items[items.length - 1].classList.add("drop-after");
    }
  });
  slotsBox.addEventListener("dragleave", function (event) {
    if (!slotsBox.contains(event.relatedTarget)) clearDropMarks();
  });
  slotsBox.addEventListener("drop", function (event) {
    var target = dropTarget(event);
    clearDropMarks();
    if (!target) return;
    event.preventDefault();
    if (target.kind === "pick") {
      var id = event.dataTransfer.getData(STORY_TYPE);
      var index = rows.map(function (row) { return row.id; }).indexOf(id);
      if (index !== -1) pick(index, target.slot, true);
      return;
    }
    var moving = dragging;
    dragging = null;
    var before = dropBefore(target.list, event);
    var beforeRef = before ? before.getAttribute("data-ref") : null;
    if (beforeRef === moving.ref) return;
    var data = { story: moving.ref };
    if (beforeRef) data.before = beforeRef;
    else data.to = target.list.querySelectorAll("li.item").length;
    write("move", data).then(function () { focusItemByRef(moving.ref); });
  });

  // --- the issue's own words: subject, preheader, intro, the lead's bullets ------------

  // Each field is saved on its own when it is left (or with Enter; Ctrl+Enter in a
  // box), as one write through the same gate as a pick, and undone with u like one.
  // A field being typed in is never overwritten by a panel that comes meanwhile.
  var PREHEADER_SHOWN = 90;  // about what an inbox shows of it after the subject
  var issueWords = { subject: $("issue-subject"), preheader: $("issue-preheader"),
                     intro: $("issue-intro"), bullets: $("issue-bullets") };
  var wordsInFile = {};  // each field's text as the file had it when last read
  var wordsSent = {};    // and as sent, until the desk answers (Enter, then Tab: one write)
  var preheaderCount = $("preheader-count");

  function bulletLines(text) {
    return text.split("\n").map(function (line) { return line.trim(); })
      .filter(function (line) { return line !== ""; });
  }

  function textInFile(name, issue) {
    if (!issue) return "";
    if (name === "bullets") return (issue.bullets || []).join("\n");
    return issue[name] || "";
  }

  function showIssueWords(issue) {
    Object.keys(issueWords).forEach(function (name) {
      var box = issueWords[name];
      var typing = document.activeElement === box && box.value !== wordsInFile[name];
      wordsInFile[name] = textInFile(name, issue);
      if (!typing) box.value = wordsInFile[name];
      box.disabled = !issue;  // the YAML cannot be read: the panel says why
      box.readOnly = !writable;
    });
    countPreheader();
  }

  function countPreheader() {
    var count = Array.from(issueWords.preheader.value.trim()).length;
    var over = count > PREHEADER_SHOWN;
    preheaderCount.textContent = count + (count === 1 ? " character" : " characters") +
      (over ? ": inboxes show about " + PREHEADER_SHOWN + ", the rest may be cut" :
        " of the about " + PREHEADER_SHOWN + " inboxes show");
    preheaderCount.classList.toggle("over", over);
  }

  function unchanged(name, text) {
    if (name === "bullets") {
      return bulletLines(text).join("\n") === bulletLines(wordsInFile[name] || "").join("\n");
    }
    return text === wordsInFile[name];
  }

  function saveIssueWords(name) {
    var box = issueWords[name];
    var text = box.value;
    if (box.readOnly || box.disabled || panel === null || unchanged(name, text) ||
        wordsSent[name] === text) return;
    wordsSent[name] = text;
    write("issue", { field: name, value: name === "bullets" ? bulletLines(text) : text })
      .then(function (answer) {
        delete wordsSent[name];
        // refused: what was typed stays in the field, to mend or save again
        if (answer && answer.status !== 200 && document.activeElement !== box) {
          box.value = text;
          countPreheader();
        }
      });
  }

  Object.keys(issueWords).forEach(function (name) {
    var box = issueWords[name];
    box.addEventListener("blur", function () { saveIssueWords(name); });
    box.addEventListener("keydown", function (event) {
      if (event.isComposing) return;  // Chinese or Japanese being typed: Enter chooses
      var inBox = box.tagName === "TEXTAREA";
      if (event.key === "Enter" && (inBox ? event.ctrlKey || event.metaKey : true)) {
        event.preventDefault();
        saveIssueWords(name);
      } else if (event.key === "Escape") {
        event.preventDefault();
        box.value = wordsInFile[name] || "";
        countPreheader();
      }
    });
  });
  issueWords.preheader.addEventListener("input", countPreheader);
  $("issue-words").addEventListener("submit", function (event) { event.preventDefault(); });

  // --- findings ------------------------------------------------------------------------

  function loadFindings(links) {
    // asked now (the links, say): a check still waiting for the views would answer
    // after it and take its place
    cancelDeferredFindings();
    var seq = ++findingsSeq;
    findingsStatus.textContent = links ? "Checking the links…" : "Checking…";
    return getJson(issueApi + "findings" + (links ? "?links=1" : "")).then(function (answer) {
      if (seq !== findingsSeq) return;
      showFindings(answer.findings, links);
      desk.findings = answer.findings;
      desk.findingsLoads += 1;
      if (links) say("links checked: " + findingsStatus.textContent);
    }).catch(function (error) {
      if (seq !== findingsSeq) return;
      findingsStatus.textContent = "Cannot check: " + String(error.message || error);
    });
  }

  function itemAtLine(line) {
    var found = null;
    itemNodes().forEach(function (node) {
      var start = Number(node.getAttribute("data-line"));
      if (start <= line && (!found || start > Number(found.getAttribute("data-line")))) found = node;
    });
    return found;
  }

  function showFindings(findings, links) {
    findingsList.textContent = "";
    var counts = { error: 0, warning: 0, note: 0 };
    findings.forEach(function (finding) {
      counts[finding.severity] = (counts[finding.severity] || 0) + 1;
      var entry = element("li", "finding " + finding.severity);
      entry.appendChild(element("strong", "severity", finding.severity));
      entry.appendChild(document.createTextNode(" " + finding.message + " "));
      var line = finding.location && finding.location.line;
      var target = line ? itemAtLine(line) : null;
      if (target) {
        var link = element("a", "to-item", "line " + line);
        link.href = "#" + target.id;
        link.setAttribute("data-line", String(line));
        entry.appendChild(link);
      } else if (line) {
        entry.appendChild(element("span", "muted", "line " + line));
      }
      if (finding.hint) entry.appendChild(element("span", "hint", "hint: " + finding.hint));
      findingsList.appendChild(entry);
    });
    var summary = findings.length === 0 ? "Nothing to look at" :
      ["error", "warning", "note"].filter(function (s) { return counts[s]; }).map(function (s) {
        return counts[s] + " " + s + (counts[s] === 1 ? "" : "s");
      }).join(", ");
    findingsStatus.textContent = summary + (links ? " (links checked)." :
      " (links not checked).");
  }

  findingsList.addEventListener("click", function (event) {
    var link = event.target.closest("a.to-item");
    if (!link) return;
    event.preventDefault();
    var target = itemAtLine(Number(link.getAttribute("data-line")));
    if (!target) return;
    activeItem = itemNodes().indexOf(target);
    itemRoving(true);
    target.classList.add("flash");
    setTimeout(function () { target.classList.remove("flash"); }, 1500);
  });

  $("check-links").addEventListener("click", function () { loadFindings(true); });

  // --- undo, send test, help ------------------------------------------------------------

  function undo() { write("undo", {}); }
  var undoButton = $("undo");
  undoButton.disabled = !writable;
  undoButton.addEventListener("click", undo);

  var sendDialog = $("send-dialog");
  var sendForm = $("send-form");
  var sendTo = $("send-to");
  var sendError = $("send-error");

  function openSend() {
    if (refuseReadOnly()) return;
    sendError.textContent = "";
    sendDialog.showModal();
    sendTo.focus();
  }
  $("send-test").addEventListener("click", openSend);
  $("send-cancel").addEventListener("click", function () { sendDialog.close(); });
  sendForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var to = sendTo.value.trim();
    if (!to || to.indexOf("@") < 1) { sendError.textContent = "Write an email address, like you@example.org."; sendTo.focus(); return; }
    sendError.textContent = "";
    $("send-go").disabled = true;
    say("sending a test to " + to + "…");
    post(issueApi + "send-test", { to: to }).then(function (answer) {
      $("send-go").disabled = false;
      if (answer.status === 200) { sendDialog.close(); say(answer.said); }
      else { sendError.textContent = problem(answer); say(problem(answer), true); }
    });
  });

  var help = $("help");
  function openHelp() { if (!help.open) help.showModal(); $("help-close").focus(); }
  $("help-button").addEventListener("click", openHelp);
  $("help-close").addEventListener("click", function () { help.close(); });

  // --- the keyboard --------------------------------------------------------------------

  // a field the keys type into (a checkbox or a button leaves the keys to the desk)
  function typing(target) {
    if (!target) return false;
    var tag = target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable) return true;
    return tag === "INPUT" &&
      !/^(checkbox|radio|button|submit|reset|range|color|file)$/i.test(target.type);
  }

  function focusGrid() {
    if (rows.length) goToRow(active);
    else grid.focus();
  }

  function focusPanel() {
    var nodes = itemNodes();
    if (nodes.length) itemRoving(true);
    else $("panel-heading").focus();
  }

  $("panel-heading").tabIndex = -1;
  $("findings-heading").tabIndex = -1;

  // the letters act on the current story from anywhere but the issue's panel; the
  // arrows only inside the grid (elsewhere they belong to the control that has them)
  function onGrid(event, key, inGrid) {
    var index = active;
    if (inGrid) {
      switch (key) {
        case "ArrowDown": goToRow(index + 1); return true;
        case "ArrowUp": goToRow(index - 1); return true;
        case "Home": goToRow(0); return true;
        case "End": goToRow(rows.length - 1); return true;
        case "ArrowRight": column += 1; roving(true); return true;
        case "ArrowLeft": column = Math.max(0, column - 1); roving(true); return true;
        default: break;
      }
    }
    switch (key) {
      case "j": goToRow(index + 1); return true;
      case "k": goToRow(index - 1); return true;
      case "s": mark(index, "starred"); return true;
      case "x": mark(index, "skipped"); return true;
      case "l": pick(index, "lead", false); return true;
      case "L": pick(index, "lead", true); return true;
      case "c": pick(index, "catch_up"); return true;
      case "d": pick(index, "deep_dives"); return true;
      default: return false;
    }
  }

  function onItem(event, node, key) {
    var nodes = itemNodes();
    if (event.altKey && (key === "ArrowUp" || key === "ArrowDown")) {
      moveItem(node, key === "ArrowUp" ? -1 : 1);
      return true;
    }
    if (event.altKey) return false;
    switch (key) {
      case "j": case "ArrowDown": activeItem = Math.min(nodes.length - 1, activeItem + 1); itemRoving(true); return true;
      case "k": case "ArrowUp": activeItem = Math.max(0, activeItem - 1); itemRoving(true); return true;
      case "Delete": case "Backspace": removeItem(node); return true;
      case "e": editItem(node); return true;
      case "Enter": if (event.target === node) { editItem(node); return true; } return false;
      default: return false;
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey) return;
    if (help.open || sendDialog.open) return;  // a dialog has the keys (Esc closes it)
    var target = event.target;
    var key = event.key;
    if (typing(target)) {  // Esc leaves the filters for the list
      if (key === "Escape" && target.closest("#filters")) { event.preventDefault(); focusGrid(); }
      return;
    }
    var node = target.closest && target.closest("li.item");
    var handled = false;
    if (node && slotsBox.contains(node) && !node.querySelector("form.edit")) {
      handled = onItem(event, node, key);
    } else if (!event.altKey && !slotsBox.contains(target)) {
      handled = onGrid(event, key, grid.contains(target));
    }
    if (!handled && !event.altKey) {
      handled = true;
      switch (key) {
        case "?": openHelp(); break;
        case "/": search.focus(); search.select(); break;
        case "u": undo(); break;
        case "i": issueWords.subject.focus(); break;
        case "t": openSend(); break;
        case "1": focusGrid(); break;
        case "2": focusPanel(); break;
        case "3": $("findings-heading").focus(); break;
        default: handled = false;
      }
    }
    if (handled) event.preventDefault();
  });

  // --- start ---------------------------------------------------------------------------

  if (!writable) {
    say("read-only: the desk is served to the network (start it with --allow-writes to edit)");
  }
  // the candidates and the panel at once (a row learns it is in the issue when the
  // panel comes); the findings once the preview has read the issue's state and shown
  // its views (the "newsletter:state" listener above), or after two seconds without
  // a state (the preview cannot reach the server's events)
  loadCandidates(false);
  loadPanel(false);
  setTimeout(function () { if (lastFile === null && findingsSeq === 0) loadFindings(false); }, 2000);
})();
