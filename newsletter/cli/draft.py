"""Commands that write an issue file: new, pick, unpick, move."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ._base import desk_settings, hint, main, shown, user_errors
from ._params import IsoDate

if TYPE_CHECKING:
    import datetime as dt

    from ..api import Edit

_ISSUE = click.option("--issue", "issue_file", type=click.Path(
    exists=True, dir_okay=False, path_type=Path), help="The issue file (default: the newest).")


def _warn(text: str) -> None:
    click.echo(f"{click.style('warning:', fg='yellow', bold=True)} {text}", err=True)


@main.command()
@click.option("--date", type=IsoDate(), metavar="YYYY-MM-DD",
              help="The new issue's date (default: the next one at the desk's cadence).")
@user_errors
def new(date: dt.date | None) -> None:
    """Draft the next issue: next number, the next date at the desk's cadence
    (cadence: in newsletter.yaml; a week after the newest issue without it), a
    placeholder in each section, and the best unused candidates since the last
    issue listed as comments to pick from.

    \b
    Example:
      newsletter new
      newsletter new --date 2026-12-04
    """
    from .. import api

    made = api.new_issue(desk_settings(), date=date)
    weekday = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
               "Sunday")[made.date.weekday()]  # not %A: that follows the machine's locale
    click.echo(f"{click.style('wrote', fg='green')} {shown(made.path)}: issue {made.number}, "
               f"{weekday} {made.date.isoformat()}: {made.why_date}")
    if made.offered:
        click.echo(f"{made.offered} candidate{'s' * (made.offered != 1)} offered in it as "
                   "comments")
    else:
        _warn(f"no candidates offered: {made.none_offered}")
        hint(f"  {made.hint}")
    hint("next: newsletter pick ID --into lead (ids: newsletter candidates, or the comments "
         "in the file)")


@main.command()
@click.argument("ref", metavar="ID")
@click.option("--into", "section", required=True,
              type=click.Choice(["lead", "catch_up", "deep_dives"]),
              help="The section that gets the story.")
@click.option("--replace", is_flag=True,
              help="Put the story in the lead in place of the one there (its bullets and "
                   "body stay).")
@_ISSUE
@user_errors
def pick(ref: str, section: str, replace: bool, issue_file: Path | None) -> None:
    """Add candidate ID (or a unique start of it) to a section of an issue.

    A story already in the issue is refused (the error says where), and so is
    a second lead unless you pass --replace. The story's line leaves the
    candidates the draft offers as comments; every other line of the file
    stays as it was. A story that ran in another issue is picked with a
    warning saying which.

    \b
    Example:
      newsletter pick 9f3c1a --into deep_dives
      newsletter pick 4be1c07a --into lead --replace
    """
    from .. import api

    report = api.pick(desk_settings(issue_file), ref, into=section, issue_file=issue_file,
                      replace=replace)
    edit, story = report.edit, report.story
    click.echo(f"{click.style('picked', fg='green')} {story.id} {story.title!r} into "
               f"{_where(edit)} of {shown(edit.path)}")
    if edit.replaced is not None:
        kept = f"; kept its {', '.join(edit.kept)}: review them" if edit.kept else ""
        click.echo(f"replaced the lead {edit.replaced.name} {edit.replaced.title!r}{kept}")
    for use in report.ran_in:
        _warn(f"{story.id} ran in {use}")


@main.command()
@click.argument("ref", metavar="ID")
@_ISSUE
@user_errors
def unpick(ref: str, issue_file: Path | None) -> None:
    """Take story ID (a unique start of it, or its link) out of an issue.

    A section's last story, and the lead, give way to a placeholder, so the
    issue still builds; every other line of the file stays as it was.

    \b
    Example:
      newsletter unpick 9f3c1a
    """
    from .. import api

    edit = api.unpick(desk_settings(issue_file), ref, issue_file=issue_file)
    click.echo(f"{click.style('unpicked', fg='green')} {edit.story} from {_where(edit)} of "
               f"{shown(edit.path)}")
    if edit.placeholder:
        click.echo(f"{edit.section} now holds a placeholder: pick another story into it")


@main.command()
@click.argument("ref", metavar="ID")
@click.option("--to", "to", type=click.IntRange(min=1), metavar="N",
              help="The story's new place in its section, from 1.")
@click.option("--before", metavar="ID", help="Put it just before this story.")
@_ISSUE
@user_errors
def move(ref: str, to: int | None, before: str | None, issue_file: Path | None) -> None:
    """Move story ID within its section (catch_up or deep_dives) of an issue.

    Only the story's own lines move; comments and blank lines between the
    items stay where they are.

    \b
    Example:
      newsletter move 9f3c1a --to 1
      newsletter move 9f3c1a --before 4be1c07a
    """
    from .. import api

    if (to is None) == (before is None):
        raise click.UsageError("give one of --to N or --before ID")
    edit = api.move(desk_settings(issue_file), ref, to=to, before=before,
                    issue_file=issue_file)
    click.echo(f"{click.style('moved', fg='green')} {edit.story} in {edit.section} from "
               f"{edit.moved_from} to {edit.position} (line {edit.line}) of {shown(edit.path)}")


def _where(edit: Edit) -> str:
    if edit.section == "lead":
        return f"the lead (line {edit.line})"
    return f"{edit.section} item {edit.position} (line {edit.line})"
