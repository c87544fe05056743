"""The candidate store: every story the desk's feeds offered, in one SQLite file.

`<desk>/.newsletter/candidates.sqlite`, stdlib `sqlite3`, no server. Why it
looks the way it does:

- **One transaction per feed.** `Store.save` writes a feed's state, status
  and stories between `BEGIN IMMEDIATE` and `COMMIT`, so a killed fetch
  leaves each feed either fully saved or as it was. IMMEDIATE takes the
  write lock up front: a deferred transaction that upgrades to writing
  cannot wait for a busy lock in WAL mode, it fails at once.
- **WAL**, so `newsletter candidates` reads while `newsletter fetch` writes.
  `synchronous=NORMAL` keeps commits cheap; in WAL mode it survives a killed
  process, and loses at most the last commits on a power cut.
- **A versioned schema.** `PRAGMA user_version` is the number of migrations
  applied; `_MIGRATIONS` lists them, oldest first, and opening a file applies
  the missing ones in one transaction. A file from a newer tool is refused.
- **Dedupe.** Within a feed an entry is the story it was before when its
  guid, then its canonical URL, then its content hash matches; across feeds
  one story per canonical URL, with every feed that carried it remembered
  (`story_sources`). The first source owns the text: only it updates the
  title, summary and the rest, so two feeds wording one story differently
  do not flip it on every fetch. An id stays what it was when first seen,
  so an editor's `story:` reference never moves.
- **Search in any language.** A term of three or more characters is found
  as a substring, so Chinese and Japanese (no spaces between words) need no
  word segmenter: an FTS5 `trigram` index (`story_grams`, schema v5) gives
  the stories that hold all of the term's trigrams, and the term itself is
  then checked in their text. Shorter terms (`海洋`, `AI`) cannot form a
  trigram; they are tested on the same text, as a substring, or as a whole
  word when ASCII (`AI` is not in "again"). Every trigram is quoted, so no
  input is FTS query syntax. The searched text is the title, the summary
  and the first `SEARCHED_CONTENT` characters of the content, as plain text
  (`story_plain`). A new story's text goes into the index by a statement of
  its own (schema v6), not by a trigger: FTS5 writes what it holds in memory
  at every savepoint, and a trigger's statement runs in one, so a trigger
  made each story a segment of its own, and saving took 1.6 times as long
  (`_v6_index_new_text_directly`).
- **Small on disk.** Until schema v4 the index was FTS5 with positions
  (`detail=full`) over the whole text, and kept its own copy of that text:
  on long stories most of the file. Now the index keeps only which stories
  hold each trigram (`detail=none`, external content: the text is
  `story_plain`'s), a long content is searched for its first
  `SEARCHED_CONTENT` characters (what a list shows of a story without a
  summary), summaries and contents are stored zlib-compressed (nothing
  reads them in SQL), and a new file has 8 KiB pages (a long story's row
  of ~2 KB leaves most of a 4 KiB page empty): 10,000 stories of
  six-paragraph articles went from 144 MB to 36 (twelve paragraphs: 223 to
  44), the short generated ones from 30 MB to 17, every search still in 2
  to 25 ms (`bench/store.py`).
- **Marks.** The editor's star or skip of a story (the browser desk) is a
  row of `marks`, never both; a skipped story is left out of the lists
  unless asked for. `page` is what the browser desk lists: a page of
  newest-first rows with the total, reading only what a list shows (the
  summary as plain text from the search index, never the content). On
  10,000 stories a page takes 1 to 3 ms, a search 2 to 12 ms (short terms
  scan every story's text, once for the page and the count together).
- **Dates** are ISO-8601 UTC text with microseconds: text order is time
  order. A story without a date (`published` None: the feed gave none it
  could trust) is dated by when the store first saw it, for ordering,
  `since` and `prune`, and reads back with that date. A later fetch that
  still gives no date keeps it, so a feed that changes does not send its
  undated stories back to the top of "newest first".
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import sqlite3
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from .._urls import is_remote, is_safe_url
from ..errors import StoreError
from ..model import (
    MIN_ID_PREFIX,
    FeedSpec,
    Image,
    Marks,
    SourceLocation,
    Story,
)

if TYPE_CHECKING:  # `model.collect`: loaded where first used, so listing candidates never does
    from ..model import CandidatePage, CandidateRow, FeedState, FetchOutcome, FetchResult

__all__ = [
    "BY_HAND",
    "MIN_PREFIX",
    "SCHEMA_VERSION",
    "FeedStatus",
    "SaveCounts",
    "Store",
    "changed",
    "content_hash",
    "dedupe",
    "default_path",
    "has_term",
    "search_terms",
]

BY_HAND = "added by hand"  # the source of a story added with `newsletter add`
MIN_SQLITE = (3, 34, 0)  # the trigram tokenizer
MIN_PREFIX = MIN_ID_PREFIX
#: Characters of a story's content (as plain text) that search reads, after its
#: title and summary: a teaser's worth, so a long article does not grow the store
#: by its whole text once more.
SEARCHED_CONTENT = 400
_BUSY_MS = 10_000  # how long to wait for another command's write to finish
_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit
_MOST_GRAMS = 16  # trigrams of one search term that the index is asked for
_PACK_FROM = 200  # characters of a summary or content from which it is kept compressed
#: A new file's page size. SQLite keeps a row whole on one page when it fits, and a
#: story with a long content is a row of about 2 KB: a 4 KiB page holds one and wastes
#: the rest, an 8 KiB page three or four (bench/store.py: 13 to 5% smaller).
_PAGE_BYTES = 8192
_CONTENT_MARKUP = 8  # characters of content markup read per character of text searched


def default_path(desk: Path) -> Path:
    """Where a desk keeps its candidate store."""
    return desk / ".newsletter" / "candidates.sqlite"


@dataclass(frozen=True, slots=True, kw_only=True)
class SaveCounts:
    """What saving one feed did to its stories (each distinct story counted once)."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedStatus:
    """A feed's last fetch, for `newsletter feeds`."""

    name: str
    url: str  # where the next fetch goes (a permanent redirect moves it)
    last_checked: dt.datetime | None
    last_outcome: FetchOutcome | None
    last_error: str
    stories: int


# --- pure decisions ----------------------------------------------------------


# asked three times per story by one save; few kept: a story holds up to 512 KiB of
# text, and the preview's process lives for hours
@functools.lru_cache(maxsize=4)
def content_hash(story: Story) -> str | None:
    """A fingerprint of the story's text; None when there is no text beyond a title,
    since titles alone ("Weekly roundup") repeat across different stories."""
    if not (story.summary or story.content):
        return None
    import hashlib  # OpenSSL's load is a tenth of listing candidates, which never hashes

    text = json.dumps([story.title, story.summary, story.content], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _identity(story: Story) -> set[tuple[str, str]]:
    keys = {("url", story.url)}
    if story.guid:
        keys.add(("guid", story.guid))
    digest = content_hash(story)
    if digest:
        keys.add(("hash", digest))
    return keys


def dedupe(stories: Iterable[Story]) -> tuple[Story, ...]:
    """A feed's entries without repeats (same guid, URL or content); the first is kept."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for story in stories:
        keys = _identity(story)
        if seen.isdisjoint(keys):
            kept.append(story)
            seen |= keys
    return tuple(kept)


def changed(old: Story, new: Story) -> bool:
    """Whether an editor would see a difference: what makes a story "updated"."""
    def seen(s: Story) -> tuple[object, ...]:
        return s.title, s.summary, s.content, s.updated, s.image

    return seen(old) != seen(new)


@functools.lru_cache(maxsize=64)
def _short_pattern(term: str) -> re.Pattern[str]:
    """A short term as a pattern: a whole word when it is ASCII letters and digits
    ("AI" is not in "again", but is in "AI芯片"), else any substring (海洋 is in 海洋保护区)."""
    pattern, flags = re.escape(term), re.IGNORECASE
    if term.isascii():
        flags |= re.ASCII  # as SQLite's lower(): the Kelvin sign is no K
        if term.isalnum():
            pattern = rf"(?<![A-Za-z0-9]){pattern}(?![A-Za-z0-9])"
    return re.compile(pattern, flags)


def has_term(text: str | None, term: str) -> bool:
    """Whether `text` holds a search term too short for the trigram index."""
    return text is not None and _short_pattern(term).search(text) is not None


def search_terms(words: str | None) -> tuple[str | None, tuple[str, ...]]:
    """User words -> (an FTS5 MATCH expression for the terms of 3+ characters,
    the shorter terms, which a trigram index cannot find). Every term is ANDed.

    Each long term is a quoted FTS5 string ("" escapes a quote), so `AND (`,
    `NEAR`, `*` or a lone `"` are only text. NUL ends an FTS5 string early
    and is dropped.
    """
    terms = [t.replace("\x00", "") for t in (words or "").split()]
    long = [t for t in terms if len(t) >= 3]
    short = tuple(dict.fromkeys(t for t in terms if 0 < len(t) < 3))
    match = " ".join('"' + t.replace('"', '""') + '"' for t in long) or None
    return match, short


# --- values <-> columns --------------------------------------------------------


def _iso(moment: dt.datetime) -> str:
    if moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: the store keeps aware UTC times")
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _iso_or_none(moment: dt.datetime | None) -> str | None:
    return None if moment is None else _iso(moment)


def _time(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def _image_json(image: Image | None) -> str | None:
    if image is None:
        return None
    where = image.location
    location = None if where is None else {
        "path": str(where.path), "line": where.line, "column": where.column}
    return json.dumps({
        "src": image.src, "alt": image.alt, "credit": image.credit, "caption": image.caption,
        "width": image.width, "height": image.height, "field": image.field,
        "location": location,
    }, ensure_ascii=False)


def _image(text: str | None) -> Image | None:
    if text is None:
        return None
    data = json.loads(text)
    where = data.pop("location")
    location = None if where is None else SourceLocation(
        path=Path(where["path"]), line=where["line"], column=where["column"])
    return Image(location=location, **data)


def _plain(summary: str, content: str) -> str:
    """What search read besides the title until schema v4: the visible text of summary
    and content (migration v2 still writes it, as released)."""
    from ..sanitize import html_to_plain  # only when writing: reading a store cleans nothing

    return f"{html_to_plain(summary)}\n{html_to_plain(content)}"


def _packed(html: str) -> str | bytes:
    """A story's summary or content as the store keeps it: zlib-compressed UTF-8
    (schema v5: they are most of a story's bytes, and search reads `story_plain`,
    never them), or the text itself when it is too short for compressing to pay."""
    if len(html) < _PACK_FROM:
        return html
    return zlib.compress(html.encode("utf-8"), 6)


def _unpacked(stored: str | bytes) -> str:
    """What `_packed` stored (a text: rows written before schema v5, and short ones)."""
    return zlib.decompress(stored).decode("utf-8") if isinstance(stored, bytes) else stored


def _searched(summary: str, content: str) -> str:
    """What search reads besides the title: the visible text of the summary, a line
    break, and the start of the content's (both sanitized HTML, so no second nh3
    pass: it was a third of the time of saving a story)."""
    from ..sanitize import plain_of_clean  # only when writing: reading a store cleans nothing

    head = _cut_markup(content, _CONTENT_MARKUP * SEARCHED_CONTENT)
    return f"{plain_of_clean(summary)}\n{plain_of_clean(head)[:SEARCHED_CONTENT]}"


def _cut_markup(html: str, most: int) -> str:
    """At most `most` characters of `html`, not ending inside a tag."""
    if len(html) <= most:
        return html
    head = html[:most]
    return head[:head.rfind("<")] if head.rfind("<") > head.rfind(">") else head


def _story(row: sqlite3.Row, sources: Sequence[str]) -> Story:
    return Story(
        id=row["id"], url=row["url"], title=row["title"], summary=_unpacked(row["summary"]),
        content=_unpacked(row["content"]), image=_image(row["image"]),
        source=sources[0] if sources else "", sources=tuple(sources),
        language=row["language"], published=_time(row["dated"]),  # first sight if undated
        updated=_time(row["updated"]), authors=tuple(json.loads(row["authors"])),
        guid=row["guid"],
    )


def _row(row: sqlite3.Row, sources: Sequence[str], text: str) -> CandidateRow:
    """A candidate as the browser desk lists it (`used_in` is `api`'s to fill)."""
    from ..model import CandidateRow  # `model.collect`, loaded when first used

    picture = _image(row["image"])
    if picture is not None and not (is_remote(picture.src) and is_safe_url(picture.src)):
        picture = None
    marks = _MARKS.get(row["mark"], Marks())
    return CandidateRow(
        id=row["id"], url=row["url"], title=row["title"], sources=tuple(sources),
        published=_time(row["dated"]), picture=picture, summary=_list_summary(text),
        used_in=(), starred=marks.starred, skipped=marks.skipped)


def _list_summary(text: str) -> str:
    """A story's summary (else its content's start) as a list shows it: plain text of
    at most `CandidateRow.SUMMARY_CHARS` characters, cut between words where it has
    spaces (Chinese and Japanese have none), `…` where it was cut."""
    from ..model import CandidateRow  # `model.collect`, loaded when first used

    summary, _, content = text.partition("\n")  # as `_plain` wrote it
    shown, limit = (summary or content).strip(), CandidateRow.SUMMARY_CHARS
    if len(shown) <= limit:
        return shown
    cut = shown[:limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def _story_values(story: Story) -> dict[str, Any]:
    """The columns a story's owner may change (not its id, url or first sight)."""
    return {
        "title": story.title, "summary": _packed(story.summary),
        "content": _packed(story.content),
        "image": _image_json(story.image), "language": story.language,
        "published": _iso_or_none(story.published), "updated": _iso_or_none(story.updated),
        "authors": json.dumps(list(story.authors), ensure_ascii=False), "guid": story.guid,
        "content_hash": content_hash(story),
    }


# --- schema ------------------------------------------------------------------

Migration = Callable[[sqlite3.Connection], None]

_V1 = (
    """CREATE TABLE feeds (
        name TEXT PRIMARY KEY,
        configured TEXT NOT NULL,      -- the url or path newsletter.yaml gave
        url TEXT NOT NULL,             -- FeedState.url: where the next fetch goes
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        fresh_until TEXT,
        last_checked TEXT,
        last_outcome TEXT,
        last_error TEXT NOT NULL DEFAULT ''
    )""",
    # pk is an explicit INTEGER PRIMARY KEY: VACUUM may renumber implicit rowids,
    # and the search index is keyed by it
    """CREATE TABLE stories (
        pk INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        url TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        summary TEXT NOT NULL,
        content TEXT NOT NULL,
        image TEXT,                    -- JSON
        language TEXT,
        published TEXT,
        updated TEXT,
        authors TEXT NOT NULL,         -- JSON list
        guid TEXT NOT NULL,
        content_hash TEXT,
        first_seen TEXT NOT NULL,
        dated TEXT GENERATED ALWAYS AS (coalesce(published, first_seen)) VIRTUAL
    )""",
    "CREATE INDEX stories_dated ON stories (dated)",
    "CREATE INDEX stories_content_hash ON stories (content_hash)",
    # not a foreign key to feeds: "added by hand" is a source but not a feed
    """CREATE TABLE story_sources (
        story_id TEXT NOT NULL REFERENCES stories (id) ON DELETE CASCADE ON UPDATE CASCADE,
        feed TEXT NOT NULL,
        position INTEGER NOT NULL,     -- 0 is Story.source
        guid TEXT NOT NULL,            -- the entry's guid in this feed
        PRIMARY KEY (story_id, feed)
    ) WITHOUT ROWID""",
    "CREATE INDEX story_sources_feed_guid ON story_sources (feed, guid)",
    # RESTRICT: even a buggy prune cannot delete a story an issue used
    """CREATE TABLE usage (
        issue_number INTEGER NOT NULL,
        story_id TEXT NOT NULL REFERENCES stories (id) ON DELETE RESTRICT ON UPDATE CASCADE,
        issue_date TEXT NOT NULL,
        PRIMARY KEY (issue_number, story_id)
    )""",
    "CREATE INDEX usage_story ON usage (story_id)",
)


def _v1_tables(conn: sqlite3.Connection) -> None:
    for sql in _V1:
        conn.execute(sql)


def _v2_search(conn: sqlite3.Connection) -> None:
    """The search index: derived data, so it is built from the stories already there."""
    try:
        conn.execute("CREATE VIRTUAL TABLE story_text USING fts5 (title, body, "
                     "tokenize = 'trigram')")
    except sqlite3.OperationalError as e:  # no FTS5, or no trigram tokenizer
        raise StoreError(f"this Python's SQLite {sqlite3.sqlite_version} cannot search: {e}",
                         hint="use a Python whose SQLite has FTS5 (3.34 or newer)") from e
    rows = conn.execute("SELECT pk, title, summary, content FROM stories").fetchall()
    conn.executemany(
        "INSERT INTO story_text (rowid, title, body) VALUES (?, ?, ?)",
        ((pk, title, _plain(summary, content)) for pk, title, summary, content in rows))


def _v3_gone_feeds(conn: sqlite3.Connection) -> None:
    """When a feed's server said it was removed (HTTP 410): it is not asked again."""
    conn.execute("ALTER TABLE feeds ADD COLUMN gone_since TEXT")


def _v4_marks(conn: sqlite3.Connection) -> None:
    """The editor's triage in the browser desk: a story starred or skipped (one
    row per marked story; an unmarked story has none). A pruned story takes
    its mark with it."""
    conn.execute("""CREATE TABLE marks (
        story_id TEXT PRIMARY KEY
            REFERENCES stories (id) ON DELETE CASCADE ON UPDATE CASCADE,
        mark TEXT NOT NULL CHECK (mark IN ('starred', 'skipped')),
        marked TEXT NOT NULL           -- when the editor marked it
    ) WITHOUT ROWID""")
    conn.execute("CREATE INDEX marks_mark ON marks (mark)")


def _v5_lean_search(conn: sqlite3.Connection) -> None:
    """A search index a fraction of v2's size: the searched text once, as plain
    text (`story_plain`), and a trigram index over it without positions
    (`story_grams`, external content, kept in step by triggers). v2's index,
    which held the whole text twice over, is dropped; `Store` reclaims its
    pages once the migration is committed."""
    conn.execute("""CREATE TABLE story_plain (
        pk INTEGER PRIMARY KEY REFERENCES stories (pk) ON DELETE CASCADE,
        title TEXT NOT NULL,
        body TEXT NOT NULL             -- the summary, a line break, the content's start
    )""")
    conn.execute("CREATE VIRTUAL TABLE story_grams USING fts5 (title, body, "
                 "content = 'story_plain', content_rowid = 'pk', tokenize = 'trigram', "
                 "detail = 'none')")
    conn.execute("""CREATE TRIGGER story_plain_added AFTER INSERT ON story_plain BEGIN
        INSERT INTO story_grams (rowid, title, body) VALUES (new.pk, new.title, new.body);
    END""")
    conn.execute("""CREATE TRIGGER story_plain_removed AFTER DELETE ON story_plain BEGIN
        INSERT INTO story_grams (story_grams, rowid, title, body)
            VALUES ('delete', old.pk, old.title, old.body);
    END""")
    conn.execute("""CREATE TRIGGER story_plain_changed AFTER UPDATE ON story_plain BEGIN
        INSERT INTO story_grams (story_grams, rowid, title, body)
            VALUES ('delete', old.pk, old.title, old.body);
        INSERT INTO story_grams (rowid, title, body) VALUES (new.pk, new.title, new.body);
    END""")
    rows = conn.execute("SELECT pk, title, summary, content FROM stories").fetchall()
    conn.executemany("INSERT INTO story_plain (pk, title, body) VALUES (?, ?, ?)",
                     ((pk, title, _searched(summary, content))
                      for pk, title, summary, content in rows))
    conn.executemany("UPDATE stories SET summary = ?, content = ? WHERE pk = ?",
                     ((_packed(summary), _packed(content), pk)
                      for pk, _, summary, content in rows
                      if max(len(summary), len(content)) >= _PACK_FROM))
    conn.execute("DROP TABLE story_text")


def _v6_index_new_text_directly(conn: sqlite3.Connection) -> None:
    """A new story's text is indexed by an INSERT of `Store._insert`'s own, not by
    v5's trigger. A statement that fires a trigger runs in a savepoint, and FTS5
    writes the terms it holds in memory to disk at every savepoint: each story
    became an index segment of its own, merged again later, and indexing cost
    three to four times as much as it does in one batch per transaction (10,000
    stories: 1.4 s against 0.4). Changing and removing text keep their triggers:
    they are rare, and need the old text, which a trigger has at hand."""
    conn.execute("DROP TRIGGER story_plain_added")


#: Applied in order; `PRAGMA user_version` counts how many a file has had.
#: Append only: a released migration never changes.
_MIGRATIONS: tuple[Migration, ...] = (_v1_tables, _v2_search, _v3_gone_feeds, _v4_marks,
                                      _v5_lean_search, _v6_index_new_text_directly)
_LEAN_SEARCH = 5
SCHEMA_VERSION = len(_MIGRATIONS)


# --- errors ------------------------------------------------------------------

_PROBLEMS = {  # SQLite's primary error names that the editor can do something about
    "SQLITE_NOTADB": ("is not a SQLite database",
                      'it is not a candidate store: stop "newsletter preview" if it runs, '
                      'move it aside with its -wal and -shm files, and "newsletter fetch" '
                      "makes a new one"),
    "SQLITE_CORRUPT": ("is damaged",
                       'stop "newsletter preview" if it runs, move it aside with its -wal '
                       'and -shm files, and "newsletter fetch" makes a new one'),
    "SQLITE_BUSY": ("is busy", "another newsletter command is writing to it; "
                    "try again when it has finished"),
    "SQLITE_LOCKED": ("is busy", "another newsletter command is writing to it; "
                      "try again when it has finished"),
    "SQLITE_PROTOCOL": ("is busy", "try again in a moment"),
    "SQLITE_FULL": ("cannot grow: the disk is full",
                    'free some space, or remove old stories with "newsletter prune"'),
    "SQLITE_READONLY": ("cannot be written",
                        "check the permissions of the file and its folder "
                        "(SQLite writes files beside it)"),
    "SQLITE_CANTOPEN": ("cannot be opened", "check that its folder exists and is writable"),
    "SQLITE_PERM": ("cannot be written", "check the permissions of the file and its folder"),
    "SQLITE_IOERR": ("cannot be read or written", "check the disk it is on"),
}


def _primary(error: sqlite3.Error) -> str:
    name: str = getattr(error, "sqlite_errorname", "")
    return next((p for p in _PROBLEMS if name == p or name.startswith(p + "_")), "")


@contextmanager
def _mapped(path: Path) -> Iterator[None]:
    """SQLite errors the editor can fix -> StoreError; anything else stays a bug."""
    try:
        yield
    except sqlite3.DatabaseError as e:
        primary = _primary(e)
        if not primary:
            raise
        problem, hint = _PROBLEMS[primary]
        raise StoreError(f"the candidate store {problem} ({e})",
                         location=SourceLocation(path=path), hint=hint) from e


# --- the store ---------------------------------------------------------------

_MARKS = {"starred": Marks(starred=True), "skipped": Marks(skipped=True)}
_COLUMNS = ("s.pk, s.id, s.url, s.title, s.summary, s.content, s.image, s.language, "
            "s.dated, s.updated, s.authors, s.guid")
_Verdict = Literal["new", "updated", "unchanged"]


class Store:
    """The candidate store of one desk; satisfies `editorial.StoryLookup`.

    One connection, used from the thread that opened it. Each public method
    is one transaction: a write (IMMEDIATE) or a consistent read snapshot.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StoreError(
                f"the candidate store needs SQLite 3.34 or newer; this Python has "
                f"{sqlite3.sqlite_version}", hint="use a Python built with a newer SQLite")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot make the folder {path.parent}: {e.strerror}",
                             hint="check its permissions") from e
        with _mapped(path):
            # isolation_level=None: we say BEGIN and COMMIT ourselves
            self._conn = sqlite3.connect(path, isolation_level=None, timeout=_BUSY_MS / 1000)
        try:
            self._open()
        except BaseException:
            self._conn.close()
            raise

    def _open(self) -> None:
        conn = self._conn
        conn.row_factory = sqlite3.Row
        conn.create_function("has_term", 2, has_term, deterministic=True)
        conn.create_function("has_text", 2, has_text, deterministic=True)
        with _mapped(self.path):
            version = self._version()  # the first read: a file that is no database fails here
            self._refuse_newer(version)
            if version == 0:  # a new file (a file with pages keeps its size: this does nothing)
                conn.execute(f"PRAGMA page_size = {_PAGE_BYTES}")
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            if version < SCHEMA_VERSION:
                self._migrate()

    def _version(self) -> int:
        version: int = self._conn.execute("PRAGMA user_version").fetchone()[0]
        return version

    def _refuse_newer(self, version: int, *, opened: bool = False) -> None:
        if version <= SCHEMA_VERSION:
            return
        if not opened:
            raise StoreError(
                f"the candidate store was made by a newer newsletter (schema {version}; "
                f"this one reads up to {SCHEMA_VERSION})",
                location=SourceLocation(path=self.path),
                hint="upgrade newsletter: pip install -U newsletter-desk")
        raise StoreError(
            f"a newer newsletter upgraded the candidate store (to schema {version}) after "
            f"this one (up to schema {SCHEMA_VERSION}) opened it; nothing was written",
            location=SourceLocation(path=self.path),
            hint="upgrade newsletter (pip install -U newsletter-desk), then run the command "
                 'again; restart a "newsletter preview" started before the upgrade')

    def _migrate(self) -> None:
        with self._write() as conn:
            version = self._version()  # again, under the lock: another process may have run
            for migration in _MIGRATIONS[version:]:
                migration(conn)
            # PRAGMA takes no parameters; the value is our own constant
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        if 0 < version < _LEAN_SEARCH:  # a file that had v2's index
            self._reclaim()

    def _reclaim(self) -> None:
        """Give the pages of v2's dropped index back to the disk: a file that held a
        hundred megabytes of it would otherwise keep its size. VACUUM runs outside a
        transaction; if another command holds the file it is not tried again, and the
        file keeps its size (new stories reuse the free pages)."""
        with suppress(sqlite3.OperationalError):  # busy: the migration itself is committed
            self._conn.execute("VACUUM")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    # --- transactions ----------------------------------------------------------

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        with _mapped(self.path):
            conn.execute(begin)
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:  # SQLite may have rolled back already (disk full)
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on a schema this code knows. Another process may have
        upgraded the file since this one opened it (a newer tool run while an older
        preview kept the store open), and rows written the old way would miss what
        the new schema does for them (v6: the search index of a new story)."""
        with self._transaction("BEGIN IMMEDIATE") as conn:
            self._refuse_newer(self._version(), opened=True)
            yield conn

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._transaction("BEGIN")  # one snapshot for all the method's queries

    # --- fetching --------------------------------------------------------------

    def feed_states(self, *, current: Iterable[FeedSpec] | None = None) -> dict[str, FeedState]:
        """Each feed's state after its last fetch, by feed name.

        Given the desk's `current` feeds, only those still configured with the
        same url or path are returned: a feed whose address the editor changed
        starts afresh instead of following the old address's redirects.
        """
        from ..model import FeedState  # `model.collect`, loaded when first used

        with self._read() as conn:
            rows = conn.execute("SELECT * FROM feeds").fetchall()
        states = {row["name"]: (row["configured"], FeedState(
            url=row["url"], etag=row["etag"], last_modified=row["last_modified"],
            body_hash=row["body_hash"], fresh_until=_time(row["fresh_until"]),
            gone_since=_time(row["gone_since"]),
        )) for row in rows}
        if current is None:
            return {name: state for name, (_, state) in states.items()}
        wanted = {spec.name: _address(spec) for spec in current}
        return {name: state for name, (configured, state) in states.items()
                if wanted.get(name) == configured}

    def save(self, result: FetchResult, *, now: dt.datetime) -> SaveCounts:
        """Record one feed's fetch in one transaction: its state and status, and,
        when it was UPDATED, its stories (deduplicated).

        The store keeps the provenance: a story's sources are the feeds whose
        results carried it (`result.feed.name`), whatever `Story.source` says.
        """
        return self.save_all([result], now=now)[0]

    def save_all(self, results: Sequence[FetchResult], *, now: dt.datetime) -> list[SaveCounts]:
        """`save` for several feeds' fetches in one transaction: all or none of them.

        A fetch saves the results that came in while it was saving the last
        ones together: every commit makes the search index write what it
        holds (a segment to merge later), so 200 feeds saved 16 at a time take
        two thirds of the time of one at a time.
        """
        with self._write() as conn:
            return [self._save_result(conn, result, now) for result in results]

    def _save_result(self, conn: sqlite3.Connection, result: FetchResult,
                     now: dt.datetime) -> SaveCounts:
        from ..model import FetchOutcome  # `model.collect`, loaded when first used

        self._save_feed(conn, result, now)
        if result.outcome != FetchOutcome.UPDATED:
            return SaveCounts()
        verdicts = [self._save_story(conn, result.feed.name, story, now)
                    for story in dedupe(result.stories)]
        return SaveCounts(new=verdicts.count("new"), updated=verdicts.count("updated"),
                          unchanged=verdicts.count("unchanged"))

    def _save_feed(self, conn: sqlite3.Connection, result: FetchResult, now: dt.datetime) -> None:
        state = result.state
        conn.execute(
            """INSERT INTO feeds (name, configured, url, etag, last_modified, body_hash,
                                  fresh_until, gone_since, last_checked, last_outcome,
                                  last_error)
               VALUES (:name, :configured, :url, :etag, :last_modified, :body_hash,
                       :fresh_until, :gone_since, :last_checked, :last_outcome, :last_error)
               ON CONFLICT (name) DO UPDATE SET
                   configured = excluded.configured, url = excluded.url,
                   etag = excluded.etag, last_modified = excluded.last_modified,
                   body_hash = excluded.body_hash, fresh_until = excluded.fresh_until,
                   gone_since = excluded.gone_since,
                   last_checked = excluded.last_checked, last_outcome = excluded.last_outcome,
                   last_error = excluded.last_error""",
            {"name": result.feed.name, "configured": _address(result.feed), "url": state.url,
             "etag": state.etag, "last_modified": state.last_modified,
             "body_hash": state.body_hash, "fresh_until": _iso_or_none(state.fresh_until),
             "gone_since": _iso_or_none(state.gone_since),
             "last_checked": _iso(now), "last_outcome": result.outcome.value,
             "last_error": result.error})

    def _save_story(self, conn: sqlite3.Connection, feed: str, story: Story,
                    now: dt.datetime) -> _Verdict:
        pk = self._match(conn, feed, story)
        if pk is None:
            self._insert(conn, feed, story, now)
            return "new"
        old = self._load(conn, "s.pk = ?", (pk,))[0]
        self._add_source(conn, old.id, feed, story.guid)
        if old.source != feed:
            return "unchanged"  # only the first source words the story
        # an undated entry keeps the date it has (when the store first saw it)
        theirs = replace(story, id=old.id, url=old.url, source=old.source, sources=old.sources,
                         published=story.published or old.published)
        if theirs != old:
            self._update(conn, pk, theirs)
        return "updated" if changed(old, theirs) else "unchanged"

    def _match(self, conn: sqlite3.Connection, feed: str, story: Story) -> int | None:
        """The stored story this entry is: by guid in this feed, by canonical URL in any
        feed, by content hash in this feed."""
        lookups: list[tuple[str, tuple[str, ...]]] = []
        if story.guid:
            lookups.append(("SELECT s.pk FROM stories s JOIN story_sources f "
                            "ON f.story_id = s.id WHERE f.feed = ? AND f.guid = ?",
                            (feed, story.guid)))
        lookups.append(("SELECT pk FROM stories WHERE url = ?", (story.url,)))
        digest = content_hash(story)
        if digest:  # through the hash index, then the feed: a feed may hold thousands
            lookups.append(("SELECT s.pk FROM stories s WHERE s.content_hash = ? AND EXISTS "
                            "(SELECT 1 FROM story_sources f WHERE f.story_id = s.id "
                            "AND f.feed = ?)", (digest, feed)))
        for sql, params in lookups:
            row = conn.execute(sql + " LIMIT 1", params).fetchone()
            if row is not None:
                pk: int = row[0]
                return pk
        return None

    def _insert(self, conn: sqlite3.Connection, source: str, story: Story,
                now: dt.datetime) -> str:
        story_id = self._free_id(conn, story.id)
        values = {**_story_values(story), "id": story_id, "url": story.url,
                  "first_seen": _iso(now)}
        names = ", ".join(values)
        pk = conn.execute(
            f"INSERT INTO stories ({names}) VALUES ({', '.join(':' + n for n in values)})",
            values).lastrowid
        self._add_source(conn, story_id, source, story.guid)
        searched = (pk, story.title, _searched(story.summary, story.content))
        conn.execute("INSERT INTO story_plain (pk, title, body) VALUES (?, ?, ?)", searched)
        conn.execute("INSERT INTO story_grams (rowid, title, body) VALUES (?, ?, ?)", searched)
        return story_id

    def _free_id(self, conn: sqlite3.Connection, wanted: str) -> str:
        """`wanted`, or `wanted-2`, `-3`...: two URLs whose short ids collide both fit."""
        candidate, n = wanted, 1
        while conn.execute("SELECT 1 FROM stories WHERE id = ?", (candidate,)).fetchone():
            n += 1
            candidate = f"{wanted}-{n}"
        return candidate

    def _update(self, conn: sqlite3.Connection, pk: int, story: Story) -> None:
        values = _story_values(story)
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        conn.execute(f"UPDATE stories SET {assignments} WHERE pk = :pk", {**values, "pk": pk})
        conn.execute("UPDATE story_plain SET title = ?, body = ? WHERE pk = ?",
                     (story.title, _searched(story.summary, story.content), pk))

    def _add_source(self, conn: sqlite3.Connection, story_id: str, source: str,
                    guid: str) -> None:
        conn.execute(
            """INSERT INTO story_sources (story_id, feed, guid, position)
               VALUES (?1, ?2, ?3, (SELECT coalesce(max(position) + 1, 0) FROM story_sources
                                     WHERE story_id = ?1))
               ON CONFLICT (story_id, feed) DO UPDATE SET guid = excluded.guid""",
            (story_id, source, guid))

    def enable_feed(self, name: str) -> bool:
        """Ask a feed again on the next fetch although its server said it was gone;
        False when it was not marked gone."""
        with self._write() as conn:
            changed = conn.execute("UPDATE feeds SET gone_since = NULL, fresh_until = NULL "
                                   "WHERE name = ? AND gone_since IS NOT NULL", (name,))
            return changed.rowcount > 0

    def feed_status(self) -> dict[str, FeedStatus]:
        """Every feed the store has seen, with its last fetch and how many stories it gave."""
        with self._read() as conn:
            rows = conn.execute(
                """SELECT f.*, (SELECT count(*) FROM story_sources s WHERE s.feed = f.name)
                          AS stories
                   FROM feeds f ORDER BY f.name""").fetchall()
        from ..model import FetchOutcome  # `model.collect`, loaded when first used

        return {row["name"]: FeedStatus(
            name=row["name"], url=row["url"], last_checked=_time(row["last_checked"]),
            last_outcome=FetchOutcome(row["last_outcome"]) if row["last_outcome"] else None,
            last_error=row["last_error"], stories=row["stories"],
        ) for row in rows}

    # --- reading stories -------------------------------------------------------

    def _load(self, conn: sqlite3.Connection, where: str, params: Sequence[object],
              tail: str = "", *, joins: str = "") -> list[Story]:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM stories s {joins} WHERE {where} {tail}",
                            params).fetchall()
        sources = self._sources(conn, [row["id"] for row in rows])
        return [_story(row, sources.get(row["id"], ())) for row in rows]

    def _sources(self, conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            for story_id, feed in conn.execute(
                    f"SELECT story_id, feed FROM story_sources WHERE story_id IN ({marks}) "
                    "ORDER BY story_id, position", chunk):
                found.setdefault(story_id, []).append(feed)
        return found

    def find(self, ref: str) -> Story | None:
        """The story with this exact id, or this exact URL, or the only one whose id
        starts with `ref` (at least 4 characters)."""
        if not ref:
            return None
        with self._read() as conn:
            exact = self._load(conn, "s.id = ?1 OR s.url = ?1", (ref,),
                               "ORDER BY s.id = ?1 DESC LIMIT 1")
            if exact or len(ref) < MIN_PREFIX:
                return exact[0] if exact else None
            prefixed = self._load(conn, "s.id GLOB ?", (_glob_prefix(ref),), "LIMIT 2")
        return prefixed[0] if len(prefixed) == 1 else None

    def suggest(self, ref: str) -> list[str]:
        """Ids the editor may have meant: those starting with `ref`, close ones,
        and those of stories whose URL contains it."""
        if not ref:
            return []
        with self._read() as conn:
            ids = [row[0] for row in conn.execute("SELECT id FROM stories")]
            in_url = [row[0] for row in conn.execute(
                "SELECT id FROM stories WHERE instr(url, ?) > 0 ORDER BY dated DESC LIMIT 5",
                (ref,))]
        starting = sorted(i for i in ids if i.startswith(ref) and i != ref)
        import difflib  # only to suggest, on a miss

        close = difflib.get_close_matches(ref, ids, n=3, cutoff=0.6)
        return list(dict.fromkeys([*starting, *close, *in_url]))[:5]

    # --- browsing --------------------------------------------------------------

    def search(self, *, words: str | None = None, since: dt.datetime | None = None,
               feed: str | None = None, unused: bool = False, starred: bool = False,
               skipped: bool | None = None, limit: int = 50) -> list[Story]:
        """Stories matching every filter, newest first (by publication date).

        `words` are ANDed; each matches anywhere in the title or summary, or
        in the first `SEARCHED_CONTENT` characters of the content, in any
        script, case-insensitively. `starred`: only starred
        stories; `skipped`: only skipped ones (True), none of them (False),
        or either (None).
        """
        joins, where, params = _filters(words=words, since=since, feed=feed, unused=unused,
                                        starred=starred, skipped=skipped)
        with self._read() as conn:
            return self._load(conn, " AND ".join(where) or "1", [*params, limit],
                              "ORDER BY s.dated DESC, s.pk DESC LIMIT ?", joins=joins)

    def page(self, *, words: str | None = None, since: dt.datetime | None = None,
             feed: str | None = None, unused: bool = False, starred: bool = False,
             skipped: bool | None = False, offset: int = 0, limit: int = 50) -> CandidatePage:
        """One page of `search`'s stories for the browser desk, and how many match in all.

        Only what a list shows is read: never the content, and the summary as
        plain text from the search index (made when the story was saved), cut
        to `CandidateRow.SUMMARY_CHARS`. `used_in` is left empty: the issues'
        lock files know it too, and `api` fills it in.
        """
        from ..model import CandidatePage  # `model.collect`, loaded when first used

        joins, where, params = _filters(words=words, since=since, feed=feed, unused=unused,
                                        starred=starred, skipped=skipped)
        condition = " AND ".join(where) or "1"
        order = "ORDER BY s.dated DESC, s.pk DESC"
        with self._read() as conn:
            if any(_terms(words)):  # a search reads the text: once, for the count and the page
                found = [pk for pk, in conn.execute(
                    f"SELECT s.pk FROM stories s {joins} WHERE {condition} {order}", params)]
                total, chosen = len(found), found[offset:offset + limit]
                condition, params = f"s.pk IN ({', '.join('?' * len(chosen))})", chosen
            else:  # through the indexes: counting is cheap, the page stops at its end
                total = conn.execute(f"SELECT count(*) FROM stories s WHERE {condition}",
                                     params).fetchone()[0]
                params = [*params, limit, offset]
                order += " LIMIT ? OFFSET ?"
            rows = self._listed(conn, f"{condition} {order}", params)
        return CandidatePage(rows=rows, total=total, offset=offset)

    def row(self, story_id: str) -> CandidateRow | None:
        """The story with this exact id as `page` lists it."""
        with self._read() as conn:
            found = self._listed(conn, "s.id = ?", [story_id])
        return found[0] if found else None

    def _listed(self, conn: sqlite3.Connection, where: str, params: Sequence[object]
                ) -> tuple[CandidateRow, ...]:
        rows = conn.execute(
            f"""SELECT s.pk, s.id, s.url, s.title, s.image, s.dated, mk.mark
                FROM stories s LEFT JOIN marks mk ON mk.story_id = s.id WHERE {where}""",
            params).fetchall()
        sources = self._sources(conn, [row["id"] for row in rows])
        texts = self._list_texts(conn, [row["pk"] for row in rows])
        return tuple(_row(row, sources.get(row["id"], ()), texts.get(row["pk"], ""))
                     for row in rows)

    def _list_texts(self, conn: sqlite3.Connection, pks: Sequence[int]) -> dict[int, str]:
        """The start of each story's searchable text (its summary, then its content,
        as plain text): enough for a list's summary, however long the story."""
        from ..model import CandidateRow  # `model.collect`, loaded when first used

        read = 2 * CandidateRow.SUMMARY_CHARS + 1  # the summary and its "\n", or a cut
        found: dict[int, str] = {}
        for start in range(0, len(pks), _CHUNK):
            chunk = pks[start:start + _CHUNK]
            found.update(conn.execute(
                f"SELECT pk, substr(body, 1, ?) FROM story_plain "
                f"WHERE pk IN ({', '.join('?' * len(chunk))})", [read, *chunk]).fetchall())
        return found

    # --- the editor's marks ----------------------------------------------------

    def mark(self, story_id: str, *, starred: bool | None = None, skipped: bool | None = None,
             now: dt.datetime) -> Marks | None:
        """Star or skip the story with this exact id, or take its mark off (False);
        None leaves a mark as it is. A story is never both: starring a skipped
        story un-skips it, and the other way round. Returns the story's marks
        now, or None when the store has no such story."""
        if starred and skipped:
            raise ValueError("a story is starred or skipped, not both")
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM stories WHERE id = ?", (story_id,)).fetchone() is None:
                return None
            if starred or skipped:
                conn.execute(
                    """INSERT INTO marks (story_id, mark, marked) VALUES (?, ?, ?)
                       ON CONFLICT (story_id) DO UPDATE SET mark = excluded.mark,
                           marked = excluded.marked WHERE mark != excluded.mark""",
                    (story_id, "starred" if starred else "skipped", _iso(now)))
            for name, value in (("starred", starred), ("skipped", skipped)):
                if value is False:
                    conn.execute("DELETE FROM marks WHERE story_id = ? AND mark = ?",
                                 (story_id, name))
            return self._marks(conn, [story_id]).get(story_id, Marks())

    def marks(self, story_ids: Iterable[str]) -> dict[str, Marks]:
        """The marks of those of these stories that have one."""
        with self._read() as conn:
            return self._marks(conn, list(dict.fromkeys(story_ids)))

    def _marks(self, conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, Marks]:
        found: dict[str, Marks] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            for story_id, mark in conn.execute(
                    f"SELECT story_id, mark FROM marks WHERE story_id "
                    f"IN ({', '.join('?' * len(chunk))})", chunk):
                found[story_id] = _MARKS[mark]
        return found

    def mark_used(self, story_ids: Iterable[str], *, issue_number: int,
                  issue_date: dt.date) -> None:
        """Record that issue `issue_number` uses exactly these stories.

        A rebuilt issue replaces its earlier list, so a story dropped from it
        becomes unused again. Ids the store does not hold (a story pinned in
        a lock file made on another machine) are skipped.
        """
        ids = list(dict.fromkeys(story_ids))
        with self._write() as conn:
            conn.execute("DELETE FROM usage WHERE issue_number = ?", (issue_number,))
            conn.executemany(
                "INSERT INTO usage (issue_number, story_id, issue_date) "
                "SELECT ?, id, ? FROM stories WHERE id = ?",
                [(issue_number, issue_date.isoformat(), story_id) for story_id in ids])

    def used_in(self, story_id: str) -> list[int]:
        """The numbers of the issues that used this story, in order."""
        with self._read() as conn:
            return [row[0] for row in conn.execute(
                "SELECT issue_number FROM usage WHERE story_id = ? ORDER BY issue_number",
                (story_id,))]

    def uses(self, story_ids: Iterable[str]) -> dict[str, list[tuple[int, dt.date]]]:
        """For each of these stories that an issue used: (issue number, issue date),
        in issue order."""
        ids = list(dict.fromkeys(story_ids))
        found: dict[str, list[tuple[int, dt.date]]] = {}
        with self._read() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start:start + _CHUNK]
                for story_id, number, date in conn.execute(
                        f"SELECT story_id, issue_number, issue_date FROM usage WHERE story_id "
                        f"IN ({', '.join('?' * len(chunk))}) ORDER BY issue_number", chunk):
                    found.setdefault(story_id, []).append((number, dt.date.fromisoformat(date)))
        return found

    def first_seen(self, story_id: str) -> dt.datetime | None:
        """When a fetch (or `add`) first brought the story into the store."""
        with self._read() as conn:
            row = conn.execute("SELECT first_seen FROM stories WHERE id = ?",
                               (story_id,)).fetchone()
        return None if row is None else _time(row[0])

    def sources(self) -> list[str]:
        """Every name stories came from (feeds, also ones no longer in newsletter.yaml,
        and "added by hand"), and every feed fetched, sorted."""
        with self._read() as conn:
            rows = conn.execute("SELECT feed FROM story_sources UNION SELECT name FROM feeds "
                                "ORDER BY 1").fetchall()
        return [row[0] for row in rows]

    def last_issue_date(self) -> dt.date | None:
        """The date of the latest issue that used a story from the store."""
        with self._read() as conn:
            last = conn.execute("SELECT max(issue_date) FROM usage").fetchone()[0]
        return None if last is None else dt.date.fromisoformat(last)

    def prune(self, *, older_than: dt.datetime) -> int:
        """Remove stories published (or, undated, first seen) before `older_than`,
        never one an issue used; return how many went."""
        doomed = ("FROM stories WHERE dated < ? "
                  "AND NOT EXISTS (SELECT 1 FROM usage u WHERE u.story_id = stories.id)")
        cutoff = (_iso(older_than),)
        with self._write() as conn:
            conn.execute(f"DELETE FROM story_plain WHERE pk IN (SELECT pk {doomed})", cutoff)
            removed: int = conn.execute(f"DELETE {doomed}", cutoff).rowcount
        return removed

    def add(self, story: Story, *, now: dt.datetime) -> Story:
        """Store a story added by hand; one already stored (same URL) is returned
        as stored, with "added by hand" among its sources."""
        with self._write() as conn:
            row = conn.execute("SELECT id FROM stories WHERE url = ?", (story.url,)).fetchone()
            if row is None:
                story_id = self._insert(conn, BY_HAND, story, now)
            else:
                story_id = row[0]
                self._add_source(conn, story_id, BY_HAND, story.guid)
            return self._load(conn, "s.id = ?", (story_id,))[0]


def _terms(words: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(terms of 3+ characters, shorter terms), as `search_terms` splits them."""
    terms = [t.replace("\x00", "") for t in (words or "").split()]
    long = tuple(dict.fromkeys(t for t in terms if len(t) >= 3))
    return long, search_terms(words)[1]


def _grams_match(terms: Sequence[str]) -> str:
    """An FTS5 query for stories holding every trigram of every term (at most
    `_MOST_GRAMS` of a long one, spread over it: the text check decides anyway).
    Each trigram is a quoted string, so no input is query syntax."""
    grams: dict[str, None] = {}
    for term in terms:
        found = [term[i:i + 3] for i in range(len(term) - 2)]
        step = max(1, len(found) // _MOST_GRAMS)
        grams.update(dict.fromkeys([*found[::step], found[-1]]))
    return " ".join('"' + g.replace('"', '""') + '"' for g in grams)


def _long_condition(term: str) -> tuple[str, tuple[str, ...]]:
    """SQL for "{column} holds `term`" as the trigram index folds case: LIKE (in C)
    for an ASCII term, `has_text` for any other."""
    if term.isascii():
        return "{column} LIKE ? ESCAPE '\\'", ("%" + re.sub(r"([\\%_])", r"\\\1", term) + "%",)
    return "has_text({column}, ?)", (term,)


def has_text(text: str | None, term: str) -> bool:
    """Whether `text` holds `term`, case folded (a search term of 3+ characters)."""
    return text is not None and term.lower() in text.lower()


def _short_condition(term: str) -> tuple[str, tuple[str, ...]]:
    """SQL for "{column} holds `term`", a term too short for the trigram index.

    A term without case (Chinese, Japanese, digits) is a plain substring, all in
    SQLite. An ASCII term is first found by LIKE (in C, folding ASCII case
    without copying the text as lower() would: twice as fast on 10,000
    stories) and then checked as a whole word by `has_term`; LIKE folds
    ASCII only, which is why `has_term` folds ASCII only too. Any other term
    is left to `has_term`.
    """
    if term.lower() == term.upper():
        return "instr({column}, ?) > 0", (term,)
    if term.isascii():
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", term) + "%"
        return "({column} LIKE ? ESCAPE '\\' AND has_term({column}, ?))", (pattern, term)
    return "has_term({column}, ?)", (term,)


def _filters(*, words: str | None, since: dt.datetime | None, feed: str | None,
             unused: bool, starred: bool = False, skipped: bool | None = None
             ) -> tuple[str, list[str], list[object]]:
    """A search as SQL: a join, conditions to AND, and their parameters."""
    long, short = _terms(words)
    where: list[str] = []
    params: list[object] = []
    if long or short:  # one pass over the searched text, in its own order, then the rest
        found, params = _text_condition(long, short)
        where.append(f"s.pk IN (SELECT sp.pk FROM story_plain sp WHERE {found})")
    if since is not None:
        where.append("s.dated >= ?")
        params.append(_iso(since))
    if feed is not None:
        # IN, not EXISTS: the planner reads the feed's stories from its index
        where.append("s.id IN (SELECT f.story_id FROM story_sources f WHERE f.feed = ?)")
        params.append(feed)
    if unused:
        where.append("NOT EXISTS (SELECT 1 FROM usage u WHERE u.story_id = s.id)")
    if starred:  # the few marked stories, from the index on marks.mark
        where.append("s.id IN (SELECT k.story_id FROM marks k WHERE k.mark = 'starred')")
    if skipped:
        where.append("s.id IN (SELECT k.story_id FROM marks k WHERE k.mark = 'skipped')")
    elif skipped is not None:
        where.append("NOT EXISTS (SELECT 1 FROM marks k WHERE k.story_id = s.id "
                     "AND k.mark = 'skipped')")
    return "", where, params


def _text_condition(long: Sequence[str], short: Sequence[str]) -> tuple[str, list[object]]:
    """SQL over `story_plain sp` for "holds every term", and its parameters: the
    stories with every trigram of every long term (the index), then each term
    in their title or text."""
    where: list[str] = []
    params: list[object] = []
    if long:
        where.append("sp.pk IN (SELECT rowid FROM story_grams WHERE story_grams MATCH ?)")
        params.append(_grams_match(long))
    for term in (*long, *short):
        condition, values = _long_condition(term) if len(term) >= 3 else \
            _short_condition(term)
        where.append(f"({condition.format(column='sp.title')} OR "
                     f"{condition.format(column='sp.body')})")
        params += [*values, *values]
    return " AND ".join(where), params


def _glob_prefix(text: str) -> str:
    """A GLOB pattern for ids starting with `text`: GLOB is case-sensitive, like ids,
    and a prefix pattern is answered from the index."""
    return re.sub(r"([*?[])", r"[\1]", text) + "*"


def _address(spec: FeedSpec) -> str:
    return spec.url or spec.path or ""
