"""What can go wrong that an editor can fix.

    NewsletterError            every user-facing failure: message + location + hint
    ├── InputError             a YAML file (issue or settings) is wrong; holds every Problem
    │   ├── IssueFileError
    │   ├── SettingsError
    │   └── AssetError         a picture is missing or unreadable
    ├── FeedError              a feed cannot be fetched or read (names the feed)
    ├── StoreError             the candidate store cannot be opened or is damaged
    ├── RenderError            a template or the MJML compiler failed
    ├── SendError              a test send cannot be built or handed to the SMTP server
    └── BuildError             several issues of a site build failed; lists each

Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only named in annotations: `newsletter --help` need not build the model
    from .model import SourceLocation

__all__ = [
    "AssetError",
    "BuildError",
    "FeedError",
    "InputError",
    "IssueFileError",
    "NewsletterError",
    "Problem",
    "RenderError",
    "SendError",
    "SettingsError",
    "StoreError",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong in an input file, reported like a compiler would."""

    location: SourceLocation
    field: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        head = f"{self.location}: {self.field}: {self.message}" if self.field else (
            f"{self.location}: {self.message}"
        )
        return f"{head}\n  hint: {self.hint}" if self.hint else head


class NewsletterError(Exception):
    """A failure the user can fix; `str()` is what the CLI prints."""

    def __init__(
        self, message: str, *, location: SourceLocation | None = None, hint: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def __str__(self) -> str:
        head = f"{self.location}: {self.message}" if self.location else self.message
        return f"{head}\n  hint: {self.hint}" if self.hint else head

    def __reduce__(self) -> tuple[Any, ...]:
        # subclasses take other arguments; rebuild from the state alone, so an
        # error raised in a build worker process reaches the editor intact
        return _restore, (type(self), self.args, self.__dict__)


def _restore(cls: type[NewsletterError], args: tuple[Any, ...],
             state: dict[str, Any]) -> NewsletterError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class InputError(NewsletterError):
    """An input file has one or more problems; all of them are listed."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        first = self.problems[0]
        count = len(self.problems)
        summary = f"{count} problem{'s' if count != 1 else ''} in {first.location.path}"
        super().__init__(summary, location=first.location)

    def __str__(self) -> str:
        return "\n".join([*(str(p) for p in self.problems), self.message])


class IssueFileError(InputError):
    """An issue file (`issues/<date>.yaml`) is wrong."""


class SettingsError(InputError):
    """The desk settings (`newsletter.yaml`) are wrong."""


class AssetError(InputError):
    """A picture the issue names is missing or cannot be read."""


class FeedError(NewsletterError):
    """A feed cannot be fetched or is not a feed; `feed` names it."""

    def __init__(self, message: str, *, feed: str = "", hint: str = "") -> None:
        super().__init__(f"{feed}: {message}" if feed else message, hint=hint)
        self.feed = feed


class StoreError(NewsletterError):
    """The candidate store (.newsletter/candidates.sqlite) cannot be used."""


class RenderError(NewsletterError):
    """A template or the MJML compiler failed."""


class SendError(NewsletterError):
    """A message could not be built or handed to the mail server (send-test)."""


class BuildError(NewsletterError):
    """Several issues of a site build failed: every failure is listed, and
    nothing was written."""

    def __init__(self, failures: Iterable[NewsletterError]) -> None:
        self.failures = tuple(failures)
        count = len(self.failures)
        super().__init__(f"{count} issue{'s' * (count != 1)} could not be built; "
                         "the site was left as it was")

    def __str__(self) -> str:
        return "\n".join([*(str(f) for f in self.failures), self.message])
