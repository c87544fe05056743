"""`newsletter.yaml` -> `Settings`, validated like an issue file."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

from .._urls import is_remote
from ..errors import Problem, SettingsError
from ..model import (
    CheckSettings,
    Colors,
    FeedSpec,
    Logo,
    Paths,
    Sender,
    Settings,
    Smtp,
    SourceLocation,
    Utm,
)
from ._fields import LONG, PROSE, Fields, is_picture_source
from ._yaml import KeyPath, load_kept_yaml

__all__ = ["MAX_FEEDS", "SETTINGS_FILE", "UNSUBSCRIBE_DIALECTS", "find_settings", "load_settings",
           "relative_to_cwd"]

SETTINGS_FILE = "newsletter.yaml"
#: More feeds than an editor can read in a week; also keeps one fetch bounded.
MAX_FEEDS = 500

#: What each email service replaces with the reader's own unsubscribe link.
UNSUBSCRIBE_DIALECTS = {
    "mailchimp": "*|UNSUB|*",
    "listmonk": "{{ UnsubscribeURL }}",
    "buttondown": "{{ unsubscribe_url }}",
}

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]*):")
_PLACEHOLDERS = ("number", "date", "slug")
# how email services write "put the reader's link here": {{x}}, *|X|*, [x], %x%, {%x%}, $x
_MERGE_TAG = re.compile(r"\{\{.+\}\}|\*\|.+\|\*|\[.+\]|%.+%|\{%.+%\}|\$\w+")
_TOP = ("name", "tagline", "description", "base_url", "language", "colors", "logo", "sender",
        "signup_url", "signup_field", "footer", "legal", "unsubscribe", "utm", "paths", "feeds",
        "check", "smtp", "blurb_words", "cadence", "full_width_deep_dives")


def find_settings(start: Path) -> Path:
    """The nearest `newsletter.yaml` at or above `start`."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / SETTINGS_FILE
        if candidate.is_file():
            return relative_to_cwd(candidate)
    raise SettingsError([Problem(
        location=SourceLocation(path=start / SETTINGS_FILE), field="",
        message=f"no {SETTINGS_FILE} here or in any parent folder",
        hint='run the command inside a desk, or create one with "newsletter init DIR"',
    )])


def relative_to_cwd(path: Path) -> Path:
    """Relative to the working folder when inside it: error messages read shorter."""
    try:
        return path.relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def load_settings(path: Path) -> Settings:
    """Read and validate a desk's settings; raise SettingsError listing every problem."""
    problems: list[Problem] = []
    doc, keep = load_kept_yaml(path, problems)  # every command reads it: kept parsed
    settings = None
    if doc is not None and doc.data is None:
        problems.append(Problem(
            location=SourceLocation(path=path, line=1, column=1), field="",
            message="the file is empty",
            hint='start from the newsletter.yaml that "newsletter init" writes'))
    elif doc is not None:
        settings = _read_settings(Fields(doc, problems), doc.data, path.parent.resolve())
    if problems:
        raise SettingsError(problems)
    assert settings is not None, "unreadable settings without a reported problem"
    keep()  # valid: what a refused value (a password) held never reaches the cache
    return settings


def _read_settings(f: Fields, data: Any, root: Path) -> Settings | None:
    top = f.mapping(data, (), known=_TOP, required=("name", "base_url"), what="setting")
    if top is None:
        return None
    base_url = f.url(top, ("base_url",), required=True)
    if base_url and not base_url.endswith("/"):
        base_url += "/"
    return Settings(
        root=root,
        name=f.text(top, ("name",), required=True),
        base_url=base_url,
        tagline=f.text(top, ("tagline",), max_len=LONG),
        description=f.text(top, ("description",), max_len=LONG),
        language=f.language(top, ("language",)) or "en",
        colors=_colors(f, top),
        logo=_logo(f, top),
        sender=_sender(f, top),
        signup_url=f.url(top, ("signup_url",)) or None,
        signup_field=_signup_field(f, top),
        footer=f.text(top, ("footer",), max_len=PROSE),
        legal=f.text(top, ("legal",), max_len=LONG),
        unsubscribe=_unsubscribe(f, top),
        utm=_utm(f, top),
        paths=_paths(f, top),
        feeds=_feeds(f, top),
        check=_check(f, top),
        smtp=_smtp(f, top),
        cadence=_cadence(f, top),
        blurb_words=_blurb_words(f, top),
        full_width_deep_dives=_full_width_deep_dives(f, top),
    )


def _blurb_words(f: Fields, top: dict[str, Any]) -> int:
    """How long a blurb taken from a feed's summary may be (see model.Settings)."""
    words = f.integer(top, ("blurb_words",), default=60)
    if words is not None and not 5 <= words <= 1_000:
        f.problem(("blurb_words",), f"must be between 5 and 1,000, got {words:,}",
                  "two or three sentences are about 60 words")
        return 60
    return words or 60


def _full_width_deep_dives(f: Fields, top: dict[str, Any]) -> int:
    """How many deep dives show a full-width picture before the compact cards begin."""
    count = f.integer(top, ("full_width_deep_dives",), maximum=1_000, default=2)
    return 2 if count is None else count


def _cadence(f: Fields, top: dict[str, Any]) -> str:
    """When issues come out (`cadence: weekly on friday`), spelled one way."""
    from .cadence import Cadence, CadenceError

    if isinstance(top.get("cadence"), dict | list):
        f.problem(("cadence",), "expected text, not a list or mapping", Cadence.HINT)
        return ""
    text = f.text(top, ("cadence",), max_len=80)
    try:
        return str(Cadence.parse(text)) if text else ""
    except CadenceError as exc:
        f.problem(("cadence",), str(exc), exc.hint)
        return ""


def _signup_field(f: Fields, top: dict[str, Any]) -> str:
    name = f.text(top, ("signup_field",), max_len=40, default="email")
    if not re.fullmatch(r"[A-Za-z0-9_.\[\]-]+", name):
        f.problem(("signup_field",), f'"{name}" is not a form field name',
                  "use the name your email service gives the address field, e.g. EMAIL "
                  "(Mailchimp) or email (Buttondown, listmonk)")
        return "email"
    return name


def _section(f: Fields, top: dict[str, Any], key: str, known: tuple[str, ...],
             required: tuple[str, ...] = ()) -> dict[str, Any] | None:
    if top.get(key) is None:
        return None
    return f.mapping(top[key], (key,), known=known, required=required)


def _colors(f: Fields, top: dict[str, Any]) -> Colors:
    names = ("brand", "accent", "text", "background", "muted")
    section = _section(f, top, "colors", names)
    if section is None:
        return Colors()
    defaults = Colors()
    values = {n: f.color(section, ("colors", n), default=getattr(defaults, n)) for n in names}
    return Colors(**values)


def _logo(f: Fields, top: dict[str, Any]) -> Logo | None:
    section = _section(f, top, "logo", ("src", "alt", "width", "height"), ("src", "alt"))
    if section is None:
        return None
    src = f.text(section, ("logo", "src"), max_len=2_000)
    if src and not is_picture_source(src):
        f.problem(("logo", "src"), f'"{src}" is neither a file in the desk nor a web address',
                  "use a path relative to newsletter.yaml or an https:// URL")
    return Logo(
        src=src,
        location=f.where(("logo", "src")),
        alt=f.text(section, ("logo", "alt")),
        width=f.integer(section, ("logo", "width"), minimum=1),
        height=f.integer(section, ("logo", "height"), minimum=1),
    )


def _sender(f: Fields, top: dict[str, Any]) -> Sender | None:
    section = _section(f, top, "sender", ("name", "email", "reply_to"), ("name", "email"))
    if section is None:
        return None
    return Sender(
        name=f.text(section, ("sender", "name")),
        email=_email(f, section, ("sender", "email")),
        reply_to=_email(f, section, ("sender", "reply_to")) or None,
    )


def _email(f: Fields, section: dict[str, Any], key_path: KeyPath) -> str:
    value = f.text(section, key_path)
    if value and not _EMAIL.match(value):
        f.problem(key_path, f'"{value}" is not an email address', "write it as name@example.org")
    return value


def _unsubscribe(f: Fields, top: dict[str, Any]) -> str:
    value = f.text(top, ("unsubscribe",), max_len=500, default="mailchimp")
    if value.lower() in UNSUBSCRIBE_DIALECTS:
        return UNSUBSCRIBE_DIALECTS[value.lower()]
    hint = ("use mailchimp, listmonk or buttondown, your email service's merge tag "
            "(e.g. {{unsubscribe}}), or an https:// address")
    import difflib  # only to suggest, on a miss

    near = difflib.get_close_matches(value.lower(), UNSUBSCRIBE_DIALECTS, n=1, cutoff=0.75)
    unbroken = "".join(value.split())  # "java\tscript:" is javascript: to a browser
    scheme = _SCHEME.match(unbroken)
    if near:
        f.problem(("unsubscribe",), f'"{value}" is not a known email service',
                  f'did you mean "{near[0]}"?')
    elif scheme and scheme.group(1).lower() not in ("http", "https", "mailto"):
        f.problem(("unsubscribe",), f'"{scheme.group(1)}:" links are not allowed', hint)
    elif not (scheme or _MERGE_TAG.search(value)):
        f.problem(("unsubscribe",), f'"{value}" is neither a merge tag nor a web address', hint)
    else:
        return value
    return UNSUBSCRIBE_DIALECTS["mailchimp"]


def _utm(f: Fields, top: dict[str, Any]) -> Utm:
    section = _section(f, top, "utm", ("enabled", "source", "medium", "campaign"))
    if section is None:
        return Utm()
    campaign = f.text(section, ("utm", "campaign"), default=Utm().campaign)
    if not _plain_placeholders(campaign):
        f.problem(("utm", "campaign"), f'"{campaign}" uses an unknown placeholder',
                  "the placeholders are {number}, {date} and {slug}, written exactly so")
        campaign = Utm().campaign
    return Utm(
        enabled=f.flag(section, ("utm", "enabled"), default=True),
        source=f.text(section, ("utm", "source"), default=Utm().source),
        medium=f.text(section, ("utm", "medium"), default=Utm().medium),
        campaign=campaign,
    )


def _plain_placeholders(pattern: str) -> bool:
    """Only bare {number}, {date} and {slug}: no format specs, attributes or indexes
    (`{number:>1000000}` would pad every link by a megabyte)."""
    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError:
        return False
    return all(name is None or (name in _PLACEHOLDERS and not spec and not conversion)
               for _, name, spec, conversion in parts)


def _check(f: Fields, top: dict[str, Any]) -> CheckSettings:
    section = _section(f, top, "check", ("reuse_issues", "window_days", "skip_links",
                                         "accept"))
    if section is None:
        return CheckSettings()
    defaults = CheckSettings()
    reuse = f.integer(section, ("check", "reuse_issues"), default=defaults.reuse_issues)
    window = f.integer(section, ("check", "window_days"), minimum=1,
                       default=defaults.window_days)
    return CheckSettings(
        reuse_issues=defaults.reuse_issues if reuse is None else reuse,
        window_days=defaults.window_days if window is None else window,
        skip_links=tuple(f.strings(section, ("check", "skip_links"), max_len=300)),
        accept=tuple(f.strings(section, ("check", "accept"), max_len=200)),
    )


def _smtp(f: Fields, top: dict[str, Any]) -> Smtp | None:
    # "password" is known only to be refused with its own message, below
    section = _section(f, top, "smtp", ("host", "port", "security", "username", "password_env",
                                        "password"), required=("host",))
    if section is None:
        return None
    if "password" in section:
        f.problem(("smtp", "password"), "a password does not belong in newsletter.yaml",
                  "set it in the environment variable NEWSLETTER_SMTP_PASSWORD instead")
    security = f.choice(section, ("smtp", "security"), ["starttls", "tls", "none"],
                        default="starttls")
    port = f.integer(section, ("smtp", "port"), minimum=1, maximum=65535)
    return Smtp(
        host=f.text(section, ("smtp", "host"), required=True),
        port=port or (465 if security == "tls" else 587),
        security=security,  # type: ignore[arg-type]  # one of the three choices
        username=f.text(section, ("smtp", "username")),
        password_env=_variable_name(f, section),
    )


def _variable_name(f: Fields, section: dict[str, Any]) -> str:
    name = f.text(section, ("smtp", "password_env"), default="NEWSLETTER_SMTP_PASSWORD")
    if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
        # never repeat the value: it may be the password, pasted in the wrong place
        f.problem(("smtp", "password_env"), "must be the NAME of an environment variable",
                  "e.g. NEWSLETTER_SMTP_PASSWORD; the password itself goes in that variable, "
                  "never in this file")
        return "NEWSLETTER_SMTP_PASSWORD"
    return name


def _paths(f: Fields, top: dict[str, Any]) -> Paths:
    section = _section(f, top, "paths", ("issues", "output", "templates"))
    if section is None:
        return Paths()
    defaults = Paths()
    values = {n: f.text(section, ("paths", n), default=getattr(defaults, n))
              for n in ("issues", "output", "templates")}
    for name, value in values.items():
        if Path(value).is_absolute() or ".." in Path(value).parts:
            f.problem(("paths", name), f'"{value}" leaves the desk folder',
                      "paths are relative to the folder holding newsletter.yaml")
            values[name] = getattr(defaults, name)
        elif Path(value) == Path():
            f.problem(("paths", name), "must be a folder inside the desk, not the desk itself",
                      f'e.g. "{getattr(defaults, name)}"')
            values[name] = getattr(defaults, name)
    folders = {Path(v) for v in values.values()}
    if len(folders) < len(values):
        f.problem(("paths",), "two of issues, output and templates are the same folder",
                  "each needs a folder of its own; the build replaces what is in output")
    return Paths(**values)


def _feeds(f: Fields, top: dict[str, Any]) -> tuple[FeedSpec, ...]:
    feeds = []
    for i, item in enumerate(f.sequence(top.get("feeds"), ("feeds",), max_items=MAX_FEEDS)):
        key_path: KeyPath = ("feeds", i)
        known = ("name", "url", "path", "section", "tags", "language")
        section = f.mapping(item, key_path, known=known, required=("name",))
        if section is None:
            continue
        url = f.url(section, (*key_path, "url"))
        path = f.text(section, (*key_path, "path"), max_len=2_000)
        outside = bool(path) and (is_remote(path) or not is_picture_source(path))
        if outside:
            f.problem((*key_path, "path"), f'"{path}" is not a file inside the desk',
                      "give a path relative to newsletter.yaml, or use url: for the web")
        elif bool(url) == bool(path):
            f.problem(key_path, "give exactly one of url: or path:",
                      "url: for a feed on the web, path: for a file in the desk")
        feeds.append(FeedSpec(
            name=f.text(section, (*key_path, "name"), required=True),
            url=url or None, path=None if outside else path or None,
            section=f.text(section, (*key_path, "section")) or None,
            tags=f.strings(section, (*key_path, "tags"), max_len=100),
            language=f.language(section, (*key_path, "language")),
        ))
    return tuple(feeds)
