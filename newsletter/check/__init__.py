"""Pre-flight checks of an issue before it goes out: what would embarrass
the desk (a clipped email, a dead link, a picture without alt text, CSS
that Outlook ignores, a story that already ran).

Each check module returns `Finding`s; `api.check_issue` runs them and the
CLI prints them grouped by severity.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from ..model import SourceLocation

__all__ = ["Finding", "Severity"]


class Severity(IntEnum):
    NOTE = 1
    WARNING = 2
    ERROR = 3

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One thing to look at: what, where (the YAML line it comes from, when
    there is one) and what to do about it."""

    severity: Severity
    code: str  # stable and short, e.g. "link-dead", "email-size"
    message: str
    hint: str = ""
    location: SourceLocation | None = None
    subject: str = ""  # the URL, picture or CSS property it is about

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        head = f"{where}{self.severity}: {self.message} [{self.code}]"
        return f"{head}\n  hint: {self.hint}" if self.hint else head
