"""The desk's JSON routes under `/api/`: what the issue page asks and writes.

Each route reads its request (every value checked against what it may be),
calls the `DeskActions` that `api` hands in (the same library functions as
the CLI) and answers JSON. Every write names the issue by its slug among the
desk's own files (`IssueFiles.issue_file`: nothing from a request becomes a
path) and carries the digest of the panel it was made against; the desk's own
edits are remembered for undo. The server's gate (`preview.server`) has
already checked where a request comes from. What comes from a feed leaves
here as JSON strings, which the page shows as text.

`preview.desk` builds and serves the issue pages; it hands these routes the
requests under `/api/`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from http import HTTPStatus
from pathlib import Path
from typing import Any, Literal, Protocol

from ..desk.config import relative_to_cwd
from ..desk.drafts import Edit, EditConflict, IssueHead, issue_head
from ..errors import NewsletterError
from ..model import (
    MAX_PAGE,
    CandidatePage,
    CandidateQuery,
    CandidateRow,
    Finding,
    IssuePanel,
    PanelItem,
    Settings,
)
from .server import API_PREFIX, Page, refusal

__all__ = ["SLOT_NAMES", "DeskActions", "DeskRoutes", "FindingsReport", "IssueFiles",
           "file_digest"]

_JSON = "application/json"
SLOT_NAMES = {"lead": "the lead", "lead.body": "the lead's body", "catch_up": "catch-up",
              "deep_dives": "deep dives", "sponsors": "sponsors"}
_PICKABLE = ("lead", "catch_up", "deep_dives")
_UNDO_DEPTH = 50  # edits remembered per issue file
_ID = re.compile(r"^[0-9a-f]{4,64}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_AGE = re.compile(r"^(\d{1,4})([hdw])$")
_ADDRESS = re.compile(r"^[^@\s,;<>\"()\[\]]{1,64}@[^@\s,;<>\"()\[\]]{1,189}$")
_MAX_TEXT = 4000  # characters of a headline, blurb, subject, preheader or bullet typed in the desk
_MAX_INTRO = 30_000  # and of an intro (the issue reader's limit is 20,000: it says so)
_MAX_BULLETS = 50  # lines sent as bullets (the issue reader's limit is 10: it says so)
_ISSUE_FIELDS = ("subject", "preheader", "intro")
_MAX_QUERY = 200  # characters of a search or feed name


class FindingsReport(Protocol):
    """What `DeskActions.findings` gives back (`api.CheckReport`)."""

    @property
    def findings(self) -> Sequence[Finding]: ...


class DeskActions(Protocol):
    """`api.BrowserDesk`: what the desk in the browser does, as the CLI does it.

    Every write goes through `desk.drafts` with `digest` as the expected digest
    of the file (a stale one raises `EditConflict`) and returns the `Edit`,
    which carries the file's bytes before it (`Edit.before`) for undo.
    """

    def candidates(self, settings: Settings, query: CandidateQuery) -> CandidatePage: ...

    def mark(self, settings: Settings, story_id: str, *, starred: bool | None = None,
             skipped: bool | None = None) -> CandidateRow: ...

    def panel(self, settings: Settings, issue_file: Path) -> IssuePanel: ...

    def pick(self, settings: Settings, issue_file: Path, story_id: str, *, into: str,
             digest: str, replace: bool = False) -> Edit: ...

    def unpick(self, settings: Settings, issue_file: Path, story_ref: str, *,
               digest: str) -> Edit: ...

    def move(self, settings: Settings, issue_file: Path, story_ref: str, *,
             to: int | None = None, before: str | None = None, digest: str) -> Edit: ...

    def edit(self, settings: Settings, issue_file: Path, story_ref: str, *,
             field: Literal["headline", "blurb"], value: str, digest: str) -> Edit: ...

    def edit_issue(self, settings: Settings, issue_file: Path, *,
                   field: Literal["subject", "preheader", "intro"], value: str,
                   digest: str) -> Edit: ...

    def edit_bullets(self, settings: Settings, issue_file: Path, bullets: Sequence[str], *,
                     digest: str) -> Edit: ...

    def restore(self, settings: Settings, issue_file: Path, data: bytes, *,
                digest: str) -> Edit: ...

    def findings(self, settings: Settings, issue_file: Path, *,
                 links: bool) -> FindingsReport: ...

    def send_test(self, settings: Settings, issue_file: Path, to: str) -> str: ...



@dataclass(frozen=True, slots=True)
class _Undo:
    """One of the desk's own edits of an issue file: the bytes before it, the
    digest after it (undo restores only a file still in that state), what it did."""

    before: bytes
    after: str
    said: str


class _Refused(Exception):
    """A request the desk answers with a refusal page (raised inside the routes)."""

    def __init__(self, page: Page) -> None:
        super().__init__(page.status)
        self.page = page


def _bad(error: str, hint: str = "", status: int = HTTPStatus.BAD_REQUEST) -> _Refused:
    return _Refused(refusal(status, error, hint))


class IssueFiles(Protocol):
    """What the routes need of the desk that serves them (`DeskPreview`)."""

    root: Path

    def desk_settings(self) -> Settings:
        """The settings as written (for sends and checks); NewsletterError if
        newsletter.yaml cannot be read now."""
        ...

    def issue_file(self, slug: str) -> Path | None:
        """The desk's own issue file with this slug (or file name), if any."""
        ...

    def wrote(self, source: Path, digest: str) -> None:
        """The desk has just written `source`, leaving it with this digest."""
        ...


class DeskRoutes:
    """The desk's JSON routes over `actions`, for the issues of `files`."""

    def __init__(self, files: IssueFiles, actions: DeskActions | None) -> None:
        self.files = files
        self.actions = actions
        self._writing = threading.Lock()  # one write (and its undo record) at a time
        self._undo: dict[Path, deque[_Undo]] = {}

    def get(self, path: str, query: Mapping[str, str]) -> Page | None:
        """A read under `/api/` (candidates, an issue's panel, its findings)."""
        parts = path.removeprefix(API_PREFIX).split("/")
        try:
            if parts == ["candidates"]:
                return self._candidates(query)
            if len(parts) == 3 and parts[0] == "issues" and parts[2] == "panel":
                settings, source = self._desk_and_issue(parts[1])
                return _json_page({"panel": self._panel_json(settings, source)})
            if len(parts) == 3 and parts[0] == "issues" and parts[2] == "findings":
                return self._findings(parts[1], links=query.get("links") == "1")
        except _Refused as refused:
            return refused.page
        return None

    def post(self, path: str, body: Mapping[str, Any]) -> Page | None:
        """A write under `/api/` from the desk's page (the server checked where it
        came from)."""
        parts = path.removeprefix(API_PREFIX).split("/")
        try:
            if len(parts) == 3 and parts[0] == "candidates" and parts[2] == "mark":
                return self._mark(parts[1], body)
            if len(parts) == 3 and parts[0] == "issues" and parts[2] in self._WRITES:
                return self._write(parts[1], parts[2], body)
        except _Refused as refused:
            return refused.page
        return None

    def _ready_actions(self) -> DeskActions:
        if self.actions is None:
            raise _bad("this preview has no desk", "start it with `newsletter preview`",
                       HTTPStatus.NOT_FOUND)
        return self.actions

    def _ready_settings(self) -> Settings:
        try:
            return self.files.desk_settings()
        except NewsletterError as exc:
            raise _bad(exc.message, exc.hint,
                       HTTPStatus.SERVICE_UNAVAILABLE) from exc

    def _desk_and_issue(self, slug: str) -> tuple[Settings, Path]:
        """The settings and the issue file named by `slug`, among the desk's own
        files only (nothing from the request becomes a path)."""
        settings = self._ready_settings()
        source = self.files.issue_file(slug)
        if source is None:
            raise _bad(f'the desk has no issue "{slug[:80]}"', "go back to the list of issues",
                       HTTPStatus.NOT_FOUND)
        return settings, source

    def _candidates(self, query: Mapping[str, str]) -> Page:
        actions, settings = self._ready_actions(), self._ready_settings()
        asked = _candidate_query(query, [f.name for f in settings.feeds])
        try:
            page = actions.candidates(settings, asked)
        except NewsletterError as exc:
            raise _bad(_said_error(exc), exc.hint) from exc
        return _json_page({"rows": [_row_json(row) for row in page.rows],
                           "total": page.total, "offset": page.offset})

    def _mark(self, story_id: str, body: Mapping[str, Any]) -> Page:
        actions, settings = self._ready_actions(), self._ready_settings()
        if not _ID.match(story_id):
            raise _bad("no such story", "pick a story from the list", HTTPStatus.NOT_FOUND)
        marks = {key: body[key] for key in ("starred", "skipped") if key in body}
        if not marks or any(not isinstance(v, bool) for v in marks.values()):
            raise _bad("say what to mark", 'send {"starred": true} or {"skipped": true}')
        try:
            row = actions.mark(settings, story_id, **marks)
        except NewsletterError as exc:
            raise _bad(_said_error(exc), exc.hint, HTTPStatus.NOT_FOUND) from exc
        return _json_page({"row": _row_json(row), "said": _said_mark(row, marks)})

    def _findings(self, slug: str, *, links: bool) -> Page:
        actions = self._ready_actions()
        settings, source = self._desk_and_issue(slug)
        try:  # not under the desk's lock: checking links takes as long as the web does
            report = actions.findings(settings, source, links=links)
        except NewsletterError as exc:
            raise _bad(_said_error(exc), exc.hint) from exc
        return _json_page({"findings": [_finding_json(f) for f in report.findings],
                           "links": links})

    # --- writes ---------------------------------------------------------------------

    _WRITES = ("pick", "unpick", "move", "edit", "issue", "undo", "send-test")

    def _write(self, slug: str, action: str, body: Mapping[str, Any]) -> Page:
        actions = self._ready_actions()
        settings, source = self._desk_and_issue(slug)
        if action == "send-test":
            return self._send_test(actions, settings, source, body)
        digest = body.get("digest")
        if not isinstance(digest, str) or not _DIGEST.match(digest):
            raise _bad("a write without the digest of the file it was made against",
                       "reload the page")
        with self._writing:
            try:
                if action == "undo":
                    said = self._undo_last(actions, settings, source, digest)
                    panel = actions.panel(settings, source)
                else:
                    edit, saying = self._edit(actions, settings, source, action, body, digest)
                    panel = actions.panel(settings, source)
                    if _file_digest_of(edit.before) == edit.digest:  # nothing to undo
                        said = "nothing changed: the file says so already"
                    else:
                        said = saying(panel)
                        self._remember(source, edit, said)
            except EditConflict as exc:
                raise _Refused(refusal(
                    HTTPStatus.CONFLICT, "the file changed on disk: reloaded",
                    "your change was not made: look at the issue as it is now and "
                    "do it again", panel=self._panel_json(settings, source),
                    said=f"the file changed on disk: reloaded. {exc.message}")) from exc
            except NewsletterError as exc:
                raise _Refused(refusal(HTTPStatus.BAD_REQUEST, _said_error(exc), exc.hint,
                                       panel=self._panel_json(settings, source))) from exc
            self.files.wrote(source, panel.digest)
        return replace(_json_page({"panel": self._panel_data(panel), "said": said}),
                       touched=frozenset({source}))

    def _edit(self, actions: DeskActions, settings: Settings, source: Path, action: str,
              body: Mapping[str, Any], digest: str) -> tuple[Edit, Callable[[IssuePanel], str]]:
        """One edit of the issue file, and how to say what it did (given the panel
        after it). The item an edit names must be one the issue holds now."""
        if action == "pick":
            return self._pick(actions, settings, source, body, digest)
        if action == "issue":
            return self._issue_words(actions, settings, source, body, digest)
        before = actions.panel(settings, source)
        item = _item_named(before, body.get("story"))
        slot = SLOT_NAMES.get(item.slot, item.slot)
        if action == "unpick":
            edit = actions.unpick(settings, source, _ref(item), digest=digest)
            return edit, lambda _: f"took “{item.headline}” out of {slot}"
        if action == "move":
            edit = self._move(actions, settings, source, before, item, body, digest)
            count = sum(1 for i in before.items if i.slot == item.slot)
            return edit, lambda _: (f"moved “{item.headline}” to {edit.position} of {count} "
                                    f"in {slot}")
        field, value = body.get("field"), body.get("value")
        if field not in ("headline", "blurb") or not isinstance(value, str):
            raise _bad("say which field and its text", 'send "field": "headline" or "blurb"')
        if len(value) > _MAX_TEXT:
            raise _bad(f"a {field} of {len(value)} characters", f"keep it under {_MAX_TEXT}")
        edit = actions.edit(settings, source, _ref(item), field=field, value=value,
                            digest=digest)
        return edit, lambda _: (f"the {field} of “{item.headline}” is the story's own again"
                                if value.strip() == "" else
                                f"changed the {field} of “{item.headline}”")

    def _pick(self, actions: DeskActions, settings: Settings, source: Path,
              body: Mapping[str, Any], digest: str) -> tuple[Edit, Callable[[IssuePanel], str]]:
        story, into = body.get("story"), body.get("into")
        if not isinstance(story, str) or not _ID.match(story):
            raise _bad("no such story", "pick a story from the list")
        if into not in _PICKABLE:
            raise _bad("no such slot", f"pick into one of {', '.join(_PICKABLE)}")
        was = _lead_of(actions.panel(settings, source)) if into == "lead" else None
        edit = actions.pick(settings, source, story, into=str(into), digest=digest,
                            replace=body.get("replace") is True)
        return edit, lambda after: _said_pick(after, edit, was)

    def _issue_words(self, actions: DeskActions, settings: Settings, source: Path,
                     body: Mapping[str, Any], digest: str
                     ) -> tuple[Edit, Callable[[IssuePanel], str]]:
        """The issue's subject, preheader or intro (a text), or the lead's bullets (a
        list of texts, one line each)."""
        field, value = body.get("field"), body.get("value")
        if field == "bullets":
            if not isinstance(value, list) or len(value) > _MAX_BULLETS or not all(
                    isinstance(line, str) and len(line) <= _MAX_TEXT for line in value):
                raise _bad("say the bullets as a list of lines",
                           f'send "value": at most {_MAX_BULLETS} texts')
            edit = actions.edit_bullets(settings, source, value, digest=digest)
            return edit, lambda _: _said_bullets(value)
        if field not in _ISSUE_FIELDS or not isinstance(value, str):
            raise _bad("say which field and its text",
                       'send "field": "subject", "preheader", "intro" or "bullets"')
        if len(value) > (_MAX_INTRO if field == "intro" else _MAX_TEXT):
            raise _bad(f"a {field} of {len(value)} characters", "shorten it")
        edit = actions.edit_issue(settings, source, field=field, value=value, digest=digest)
        return edit, lambda _: (f"took the {field} out" if value.strip() == "" else
                                f"changed the {field}")

    def _move(self, actions: DeskActions, settings: Settings, source: Path, panel: IssuePanel,
              item: PanelItem, body: Mapping[str, Any], digest: str) -> Edit:
        to, before = body.get("to"), body.get("before")
        if before is not None:
            other = _ref(_item_named(panel, before))
            return actions.move(settings, source, _ref(item), before=other, digest=digest)
        if isinstance(to, int) and not isinstance(to, bool) and 1 <= to <= 1000:
            return actions.move(settings, source, _ref(item), to=to, digest=digest)
        raise _bad("say where to", 'send "to": a position from 1, or "before": a story')

    def _remember(self, source: Path, edit: Edit, said: str) -> None:
        stack = self._undo.setdefault(source, deque(maxlen=_UNDO_DEPTH))
        stack.append(_Undo(before=edit.before, after=edit.digest, said=said))

    def _undo_last(self, actions: DeskActions, settings: Settings, source: Path,
                   digest: str) -> str:
        """Put back the bytes before the desk's last edit of `source`, if the file is
        still as that edit left it (else the history no longer describes it)."""
        stack = self._undo.get(source)
        if not stack:
            raise _bad("nothing to undo",
                       "undo takes back this desk's own edits since it was started")
        last = stack[-1]
        if digest != last.after:
            if file_digest(source) != last.after:
                stack.clear()  # what undo would put back would lose the other edit
            raise EditConflict("undo would overwrite a change made since",
                               hint="nothing was undone")
        try:
            actions.restore(settings, source, last.before, digest=last.after)
        except EditConflict:
            stack.clear()
            raise
        stack.pop()
        return f"undid: {last.said}"

    def _send_test(self, actions: DeskActions, settings: Settings, source: Path,
                   body: Mapping[str, Any]) -> Page:
        to = body.get("to")
        if not isinstance(to, str) or not _ADDRESS.match(to.strip()):
            raise _bad("not an email address", "write one address, like you@example.org")
        try:  # not under any lock: an SMTP server may take its time
            subject = actions.send_test(settings, source, to.strip())
        except NewsletterError as exc:
            raise _bad(_said_error(exc), exc.hint) from exc
        return _json_page({"said": f"sent “{subject}” to {to.strip()}"})

    def _panel_json(self, settings: Settings, source: Path) -> dict[str, Any]:
        return self._panel_data(self._ready_actions().panel(settings, source))

    def _panel_data(self, panel: IssuePanel) -> dict[str, Any]:
        root = self.files.root.resolve()
        shown = panel.path.relative_to(root) if panel.path.is_relative_to(root) else panel.path
        return {"path": shown.as_posix(), "digest": panel.digest,
                "error": panel.error, "items": [_item_json(i) for i in panel.items],
                "issue": _head_json(panel.path)}



def _said_error(error: NewsletterError) -> str:
    """An error as the desk says it: where (the file and line), then what."""
    where = error.location
    if where is None:
        return error.message
    name = Path(where.path).name
    return f"{name}:{where.line}: {error.message}" if where.line else f"{name}: {error.message}"


def _json_page(data: Mapping[str, Any]) -> Page:
    return Page(json.dumps(data, ensure_ascii=False).encode(), _JSON)


def _candidate_query(query: Mapping[str, str], feeds: Sequence[str]) -> CandidateQuery:
    """The candidates asked for, every value checked against what it may be."""
    since = None
    if query.get("since"):
        match = _AGE.match(query["since"])
        if match is None:
            raise _bad(f'"{query["since"][:20]}" is not an age', "e.g. 24h, 7d or 2w")
        unit = {"h": "hours", "d": "days", "w": "weeks"}[match[2]]
        since = dt.datetime.now(dt.UTC) - dt.timedelta(**{unit: int(match[1])})
    feed = query.get("feed") or None
    if feed is not None and feed.casefold() not in {f.casefold() for f in feeds}:
        raise _bad(f'the desk has no feed "{feed[:80]}"', "choose one from the list")
    words = (query.get("q") or "").strip()[:_MAX_QUERY] or None
    return CandidateQuery(since=since, feed=feed, words=words,
                          unused=query.get("unused") == "1",
                          starred=query.get("starred") == "1",
                          skipped=query.get("skipped") == "1",
                          offset=_number(query.get("offset"), 0, 10_000_000, 0),
                          limit=_number(query.get("limit"), 1, MAX_PAGE, 50))


def _number(text: str | None, low: int, high: int, default: int) -> int:
    if not text:
        return default
    if not text.isdigit() or len(text) > 9 or not low <= int(text) <= high:
        raise _bad(f'"{text[:20]}" is not a number from {low} to {high}')
    return int(text)


def _row_json(row: CandidateRow) -> dict[str, Any]:
    picture = row.picture
    src = picture.src if picture is not None else ""
    return {
        "id": row.id, "url": row.url if _is_web(row.url) else "", "title": row.title,
        "sources": list(row.sources),
        "published": row.published.isoformat() if row.published else None,
        # a thumbnail only from the web: never a data: or javascript: address, nor a file
        "picture": {"src": src, "alt": picture.alt, "width": picture.width,
                    "height": picture.height} if picture is not None and _is_web(src) else None,
        "summary": row.summary, "used_in": [u.to_json() for u in row.used_in],
        "starred": row.starred, "skipped": row.skipped,
    }


def _is_web(url: str) -> bool:
    return url.lower().startswith(("https://", "http://"))


def _item_json(item: PanelItem) -> dict[str, Any]:
    return {"slot": item.slot, "position": item.position, "line": item.line,
            "story": item.story, "ref": _ref(item), "url": item.url if _is_web(item.url) else "",
            "headline": item.headline, "blurb": item.blurb,
            "headline_written": item.headline_written, "blurb_written": item.blurb_written,
            "kind": item.kind}


def _head_json(source: Path) -> dict[str, Any] | None:
    """The issue's own words as the file has them (read after the panel: a digest
    that differs from the panel's means the file changed, and the page reloads),
    or None when the YAML cannot be read (the panel says why)."""
    try:
        head: IssueHead = issue_head(source)
    except NewsletterError:
        return None
    return {"digest": head.digest, "subject": head.subject, "preheader": head.preheader,
            "intro": head.intro, "bullets": None if head.bullets is None else list(head.bullets)}


def _said_bullets(bullets: Sequence[str]) -> str:
    count = len(bullets)
    return "took the lead's bullets out" if count == 0 else \
        f"wrote the lead's {count} bullet{'s' * (count != 1)}"


def _ref(item: PanelItem) -> str:
    """How an edit names the item: its story id, else its link."""
    return item.story or item.url


def _item_named(panel: IssuePanel, ref: object) -> PanelItem:
    """The panel's item named `ref` (a story id or link it shows), else refused.
    An item without either (a text block) cannot be named: that is no conflict."""
    if not isinstance(ref, str) or not ref:
        raise _bad("this item has no story or link to name it by",
                   "a text block is changed, moved or taken out in a text editor")
    found = next((i for i in panel.items if ref == _ref(i)), None)
    if found is None:
        raise EditConflict("the issue holds no such item (any more)",
                           hint="look at the issue as it is now")
    return found


def _lead_of(panel: IssuePanel) -> PanelItem | None:
    return next((i for i in panel.items if i.slot == "lead" and i.kind != "placeholder"), None)


def _said_pick(panel: IssuePanel, edit: Edit, was: PanelItem | None) -> str:
    mine = next((i for i in panel.items if i.story == edit.story and i.slot == edit.section),
                None)
    said = (f"picked “{mine.headline if mine else edit.story}” into "
            f"{SLOT_NAMES.get(edit.section, edit.section)}")
    if edit.section == "lead" and was is not None and was.story != edit.story:
        said += f", in place of “{was.headline}”"
    return said


def _said_mark(row: CandidateRow, marks: Mapping[str, bool]) -> str:
    if marks.get("starred"):
        return f"starred “{row.title}”"
    if marks.get("skipped"):
        return f"skipped “{row.title}”"
    if "starred" in marks:
        return f"took the star off “{row.title}”"
    return f"“{row.title}” is no longer skipped"


def _finding_json(finding: Finding) -> dict[str, Any]:
    """A finding as `newsletter check --json` gives it (api's `_finding_json`)."""
    where = finding.location
    return {"severity": str(finding.severity), "code": finding.code,
            "message": finding.message, "hint": finding.hint, "subject": finding.subject,
            "location": None if where is None else {
                "path": relative_to_cwd(where.path).as_posix(), "line": where.line,
                "column": where.column}}


def _file_digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes ("" when it cannot be read), as the desk's panel and
    its writes name a version of an issue file."""
    try:
        return _file_digest_of(path.read_bytes())
    except OSError:
        return ""
