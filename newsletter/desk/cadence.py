"""The desk's cadence (`cadence:` in newsletter.yaml) and the next issue's date.

Its own module, apart from `drafts`, because reading the settings needs it:
every command loads the settings, and `drafts` (the YAML editing, temporary
files, digests) is more than most of them use.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import ClassVar

__all__ = ["Cadence", "CadenceError", "choose_issue_date"]

_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CADENCE = re.compile(r"(?:(?P<daily>daily|every day)|(?P<weekly>weekly|every week)"
                      r"|every (?P<weeks>\d{1,2}) weeks)(?: on (?P<day>[a-z]+))?")
_CADENCE_HINT = ('write it as text: "weekly on friday", "every 2 weeks on monday", '
                 '"weekly" (on the newest issue\'s weekday) or "daily"')


class CadenceError(ValueError):
    """A `cadence:` setting that cannot be read; `hint` says how to write it."""

    def __init__(self, message: str, hint: str = _CADENCE_HINT) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True, slots=True, kw_only=True)
class Cadence:
    """How often the desk publishes: every `days` days, on `weekday` (0 is Monday)
    when one is named."""

    days: int = 7
    weekday: int | None = None

    HINT: ClassVar[str] = _CADENCE_HINT

    @classmethod
    def parse(cls, text: str) -> Cadence:
        """`daily`, `weekly`, `weekly on friday`, `every 2 weeks on monday` (any case)."""
        spoken = " ".join(text.lower().split())
        match = _CADENCE.fullmatch(spoken)
        if match is None:
            raise CadenceError(f'"{text}" is not a cadence')
        weeks = int(match["weeks"]) if match["weeks"] else 1
        if not 1 <= weeks <= 52:
            raise CadenceError(f"every {weeks} weeks: give 1 to 52 weeks")
        if match["daily"]:
            if match["day"]:
                raise CadenceError(f'"{text}": a daily issue has no weekday')
            return cls(days=1)
        return cls(days=7 * weeks, weekday=_weekday(match["day"]) if match["day"] else None)

    def __str__(self) -> str:
        if self.days == 1:
            return "daily"
        every = "weekly" if self.days == 7 else f"every {self.days // 7} weeks"
        return every if self.weekday is None else f"{every} on {_DAY_NAMES[self.weekday]}"

    def next_after(self, day: dt.date) -> dt.date:
        """The first issue date after `day`."""
        if self.weekday is None:
            return day + dt.timedelta(days=self.days)
        ahead = (self.weekday - day.weekday()) % 7 or 7  # the next such weekday
        return day + dt.timedelta(days=ahead + self.days - 7)


def _weekday(word: str) -> int:
    names = {name: n for n, name in enumerate(_DAY_NAMES)}
    names |= {name[:3]: n for n, name in enumerate(_DAY_NAMES)}
    found = names.get(word.removesuffix("s")) if word not in names else names[word]
    if found is None:
        import difflib  # only for the error's suggestion

        near = difflib.get_close_matches(word, _DAY_NAMES, n=1, cutoff=0.6)
        raise CadenceError(f'"{word}" is not a day of the week',
                           f'did you mean "{near[0]}"?' if near else
                           "name a day in English: monday ... sunday")
    return found


def choose_issue_date(cadence: Cadence | None, taken: Collection[dt.date],
                      today: dt.date) -> tuple[dt.date, str]:
    """The next issue's date, and why that one.

    The next date after the newest issue at the desk's cadence (without one:
    a week later), moved forward at the same cadence when it is already past;
    so never a date an issue has. Today on a desk with no issues.
    """
    if not taken:
        return today, "today: the desk has no issues yet"
    newest = max(taken)
    rule = cadence or Cadence()
    period = dt.timedelta(days=rule.days)
    day = rule.next_after(newest)
    reason = (f"the next date after the newest issue ({newest.isoformat()}) at the desk's "
              f"cadence, {cadence}" if cadence else
              f"a week after the newest issue ({newest.isoformat()}); cadence: in "
              "newsletter.yaml sets the day")
    if day < today:
        day += period * -(-(today - day).days // rule.days)
        reason = (f"the first date from today at the desk's cadence, {rule}; the newest "
                  f"issue ({newest.isoformat()}) is older" if cadence else
                  f"the first date from today a whole number of weeks after the newest "
                  f"issue ({newest.isoformat()})")
    return day, reason
