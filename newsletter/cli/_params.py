"""click parameter types for what people type besides paths: ages and dates.

A value that is not one is a usage error (exit 2, with the command's usage line),
as a mistyped option is; it never reaches the library.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, ClassVar

import click

if TYPE_CHECKING:  # click 8.5 types a ParamType by what it returns; 8.1 cannot subscript it
    _ToMoment = click.ParamType[dt.datetime]
    _ToDate = click.ParamType[dt.date]
else:
    _ToMoment = _ToDate = click.ParamType

#: Further back than a datetime reaches: every story is younger than this.
EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)


class Age(_ToMoment):
    """An age like 7d, 2w or 12h, converted to the moment that long ago (aware UTC)."""

    name = "age"
    _FORM = re.compile(r"^(\d{1,9})\s*([hdw])$")  # nine digits: int() stays cheap
    _UNITS: ClassVar[dict[str, str]] = {"h": "hours", "d": "days", "w": "weeks"}

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        match = self._FORM.match(str(value).strip().lower())
        if match is None:
            self.fail(f'"{value}" is not an age: write it like 7d, 2w or 12h', param, ctx)
        delta = {self._UNITS[match[2]]: int(match[1])}
        try:
            return dt.datetime.now(dt.UTC) - dt.timedelta(**delta)
        except OverflowError:  # before the year 1: "since ever"
            return EARLIEST


class IsoDate(_ToDate):
    """A calendar date written YYYY-MM-DD, as issue files are named."""

    name = "date"
    _FORM = re.compile(r"^\d{4}-\d{2}-\d{2}$")

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> dt.date:
        if isinstance(value, dt.date):
            return value
        text = str(value).strip()
        try:
            if self._FORM.match(text):
                return dt.date.fromisoformat(text)
        except ValueError:  # 2026-02-30
            pass
        self.fail(f'"{value}" is not a date: write it as YYYY-MM-DD, e.g. 2026-12-04',
                  param, ctx)
