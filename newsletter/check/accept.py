"""Findings the editor has accepted: kept in the report, as notes that say why.

An issue accepts a finding for one item (`accept:` on the item, or an entry
of the issue's own `accept:` naming it) or for the whole issue; a desk
accepts one for every issue (`check.accept` in newsletter.yaml: "code" or
"code:subject"). A finding is about an item when it is located at the item
or at one of its pictures, which is where every check puts it. An
acceptance naming a code no check makes is an error at the line it is on,
since it would let nothing pass and the editor thinks it does.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from ..model import Acceptance, Issue, SourceLocation
from . import CODES, Finding, Severity

__all__ = ["apply_acceptances"]


def apply_acceptances(findings: Iterable[Finding], issue: Issue, desk: Sequence[str],
                      settings_file: Path) -> list[Finding]:
    """`findings` with the accepted ones turned into notes, then one error for
    each acceptance whose code is unknown."""
    at_item = _acceptances_by_place(issue)
    found = [_accepted(f, at_item.get(f.location, ()), issue.accept, desk) for f in findings]
    written = [*issue.accept, *(a for item in issue.items() for a in item.accept)]
    found += [_unknown(a.code, a.location) for a in written if a.code not in CODES]
    desk_file = SourceLocation(path=settings_file)
    found += [_unknown(code, desk_file, "check.accept in newsletter.yaml ")
              for code in (entry.partition(":")[0] for entry in desk) if code not in CODES]
    return found


def _acceptances_by_place(issue: Issue) -> dict[SourceLocation | None, tuple[Acceptance, ...]]:
    """Where each item and its pictures are written -> what the item accepts."""
    places: dict[SourceLocation | None, tuple[Acceptance, ...]] = {}
    for item in issue.items():
        picture = getattr(item, "image", None) or getattr(item, "thumbnail", None)
        for place in (item.location, picture.location if picture else None):
            if place is not None and item.accept:
                places[place] = places.get(place, ()) + item.accept
    return places


def _accepted(finding: Finding, for_item: tuple[Acceptance, ...],
              for_issue: tuple[Acceptance, ...], desk: Sequence[str]) -> Finding:
    item = next((a for a in for_item if a.code == finding.code), None)
    chosen = item or next((a for a in for_issue if a.code == finding.code), None)
    if chosen is not None:
        unsaid = "accepted for this item" if item else "accepted for this issue"
        return _note(finding, f"accepted: {chosen.reason}" if chosen.reason else unsaid)
    if finding.code in desk or f"{finding.code}:{finding.subject}" in desk:
        return _note(finding, "accepted in newsletter.yaml")
    return finding


def _note(finding: Finding, why: str) -> Finding:
    return replace(finding, severity=Severity.NOTE, message=f"{finding.message} ({why})")


def _unknown(code: str, location: SourceLocation | None, where: str = "") -> Finding:
    near = difflib.get_close_matches(code, CODES, n=1, cutoff=0.6)
    return Finding(severity=Severity.ERROR, code="accept-unknown",
                   message=f'{where}accepts "{code}", a finding no check makes',
                   hint=f'did you mean "{near[0]}"?' if near else
                   "docs/issue-format.md lists the codes; check prints each in [brackets]",
                   location=location, subject=code)
