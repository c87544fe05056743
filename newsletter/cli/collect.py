"""Commands over the candidate store: fetch, feeds, candidates, show, add, prune."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import NewsletterError
from ._base import desk_settings, echo_json, hint, main, options, shown, user_errors
from ._params import Age

if TYPE_CHECKING:
    import datetime as dt

    from ..api import FeedRow, FetchReport, StoryReport
    from ..model import Marks, Story, Use


@main.command()
@click.argument("names", nargs=-1, metavar="[FEED]...")
@click.option("--force", is_flag=True,
              help="Download and read each feed even if the server said it has not changed "
                   "or asked to wait.")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list, one object per feed, instead of the table.")
@user_errors
def fetch(names: tuple[str, ...], force: bool, as_json: bool) -> None:
    """Fetch every feed in newsletter.yaml (or the FEEDs named, in any case)
    into the candidate store.

    Unchanged feeds cost almost nothing: the tool asks the server whether the
    feed changed since last time (--force reads them again all the same). A
    feed named here is asked even if its server said it was gone. At the end a
    table says, per feed, what was new, and what to do about a feed that
    failed. Exits 1 only when every feed failed.

    \b
    Example:
      newsletter fetch
      newsletter fetch coastal-desk --force
      newsletter fetch --json
    """
    from rich.console import Console
    from rich.progress import Progress

    from .. import api

    settings = desk_settings()
    if not settings.feeds:
        raise NewsletterError("newsletter.yaml lists no feeds",
                              hint='add one with "newsletter feeds add URL" (a feed or the '
                                   "page of a site that has one)")
    # the bar goes to stderr, so stdout holds only the table (or the JSON)
    with Progress(console=Console(stderr=True), transient=True,
                  disable=options().quiet) as progress:
        task = progress.add_task("fetching feeds", total=len(set(names)) or len(settings.feeds))
        reports = api.fetch(settings, on_report=lambda _: progress.advance(task),
                            feeds=names, force=force)
    reports.sort(key=lambda r: r.result.feed.name)
    if as_json:
        echo_json([report.to_json() for report in reports])
    else:
        _print_fetch(reports)
    if reports and all(r.result.outcome == "failed" for r in reports):
        raise SystemExit(1)


def _print_fetch(reports: list[FetchReport]) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False)
    console.print(_fetch_table(reports))
    for report in reports:
        if report.result.moved_to:
            console.print(f"[yellow]moved:[/] {escape(report.result.feed.name)} now lives at "
                          f"{escape(report.result.moved_to)}; the store uses the new address "
                          "(update newsletter.yaml too)", markup=True)


def _fetch_table(reports: list[FetchReport]) -> object:
    from rich.markup import escape
    from rich.table import Table

    table = Table("feed", "result", "new", "updated", "unchanged", "what to do")
    for report in sorted(reports, key=lambda r: r.result.feed.name):
        result, saved = report.result, report.saved
        failed = result.outcome in ("failed", "gone")
        notes = [*result.warnings[:2], *([result.hint] if result.hint else [])]
        todo = f"{result.error} — {result.hint}" if failed else "; ".join(notes)
        table.add_row(
            escape(result.feed.name),
            f"[red]{result.outcome}[/]" if failed else str(result.outcome),
            str(saved.new) if saved else "", str(saved.updated) if saved else "",
            str(saved.unchanged) if saved else "", escape(todo))
    return table


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list, one object per feed, instead of the table.")
@click.pass_context
@user_errors
def feeds(context: click.Context, as_json: bool) -> None:
    """List the desk's feeds with the result of their last fetch;
    `feeds import` and `feeds export` move feed lists as OPML.

    \b
    Example:
      newsletter feeds
      newsletter feeds --json
      newsletter feeds add https://www.example.org/blog/
      newsletter feeds import subscriptions.opml
      newsletter feeds export > tideline.opml
      newsletter feeds enable coastal-desk
    """
    if context.invoked_subcommand is not None:
        if as_json:
            raise click.UsageError("--json lists the feeds: leave it out before "
                                   f"{context.invoked_subcommand}")
        return
    from .. import api

    rows = api.feed_rows(desk_settings())
    if as_json:
        echo_json([row.to_json() for row in rows])
    else:
        _feed_table(rows)


def _feed_table(rows: list[FeedRow]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table("feed", "address", "last fetch", "result", "stories")
    for row in rows:
        table.add_row(
            escape(row.name), escape(row.address),
            row.last_fetch.strftime("%Y-%m-%d %H:%M") if row.last_fetch else "never",
            escape(f"{row.result or ''} {row.error}".strip()), str(row.stories))
    Console(highlight=False).print(table)


@feeds.command("add")
@click.argument("url")
@user_errors
def add_feed(url: str) -> None:
    """Add a feed to newsletter.yaml by its address, or by the address of any page
    of a site that names its feed (<link rel="alternate">); it is named after
    its title. Comments in newsletter.yaml are kept.

    \b
    Example:
      newsletter feeds add https://www.example.org/blog/
    """
    from .. import api

    added = api.add_feed(desk_settings(), url)
    found = f" (named by the page {added.found.page})" if added.found.page else ""
    click.echo(f"{click.style('added', fg='green')} {added.feed.name}  {added.feed.url}{found}")
    if added.found.others:
        click.echo(f"the page names other feeds too: {', '.join(added.found.others)}")
    hint(f'next: "newsletter fetch {added.feed.name}"')


@feeds.command("import")
@click.argument("opml_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@user_errors
def import_feeds(opml_file: Path) -> None:
    """Add the feeds of an OPML file to newsletter.yaml (comments are kept).

    \b
    Example:
      newsletter feeds import subscriptions.opml
    """
    from .. import api

    added = api.import_feeds(desk_settings(), opml_file)
    for feed in added:
        click.echo(f"{click.style('added', fg='green')} {feed.name}  {feed.url}")
    click.echo(f"{len(added)} new feed{'s' * (len(added) != 1)}")
    hint('next: "newsletter fetch"')


@feeds.command("enable")
@click.argument("name")
@user_errors
def enable_feed(name: str) -> None:
    """Ask a feed again whose server said it was removed (HTTP 410 Gone).

    \b
    Example:
      newsletter feeds enable coastal-desk
    """
    from .. import api

    spec, was_gone = api.enable_feed(desk_settings(), name)
    if was_gone:
        click.echo(f'{spec.name} will be asked again on the next "newsletter fetch"')
    else:
        click.echo(f"{spec.name} was not marked gone; nothing to do")


@feeds.command("export")
@user_errors
def export_feeds() -> None:
    """Print the desk's feeds as OPML.

    \b
    Example:
      newsletter feeds export > tideline.opml
    """
    from .. import api

    click.echo(api.export_feeds(desk_settings()), nl=False)


@main.command()
@click.option("--since", type=Age(), metavar="AGE",
              help="Only stories published within AGE (e.g. 7d, 2w, 12h).")
@click.option("--since-last-issue", is_flag=True, help="Only stories newer than the last "
              "issue built from the store.")
@click.option("--feed", metavar="NAME", help="Only stories from this feed.")
@click.option("--search", "words", metavar="WORDS", help="Full-text search (any language, "
              "Chinese included).")
@click.option("--unused", is_flag=True, help="Only stories no issue has used yet.")
@click.option("--starred", is_flag=True, help="Only stories starred in the browser desk.")
@click.option("--skipped", is_flag=True, help="Only stories skipped in the browser desk "
              "(otherwise they are left out).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1),
              help="At most this many stories.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@user_errors
def candidates(since: dt.datetime | None, since_last_issue: bool, feed: str | None,
               words: str | None, unused: bool, starred: bool, skipped: bool, limit: int,
               as_json: bool) -> None:
    """List candidate stories: id, date, source, title, the issues they ran in
    and a star (*) for the starred ones, newest first. Stories skipped in the
    browser desk are left out unless --skipped asks for them.

    Put a story into an issue with its id (a unique start of at least 4
    characters is enough): `newsletter pick ID --into catch_up`. See one
    story whole with `newsletter show ID`.

    \b
    Example:
      newsletter candidates --since 7d --search "kelp"
      newsletter candidates --feed Coastal-Desk --unused
      newsletter candidates --starred
    """
    from .. import api

    if starred and skipped:
        raise click.UsageError("a story is starred or skipped, never both: give one of "
                               "--starred and --skipped")
    settings = desk_settings()
    stories = api.candidates(settings, since=since, since_last_issue=since_last_issue,
                             feed=feed, words=words, unused=unused, starred=starred,
                             skipped=skipped, limit=limit)
    ids = [story.id for story in stories]
    uses, marks = api.story_uses(settings, ids), api.story_marks(settings, ids)
    if as_json:
        echo_json([api.candidate_to_json(story, uses.get(story.id, ()), marks.get(story.id))
                   for story in stories])
    else:
        _story_table(stories, uses, marks)


def _story_table(stories: list[Story], uses: dict[str, tuple[Use, ...]],
                 marks: dict[str, Marks]) -> None:
    from ._table import echo_table  # plain columns, not rich: see _table

    rows = []
    for story in stories:
        date = story.published.strftime("%Y-%m-%d") if story.published else ""
        used = ", ".join(f"#{use.number}" for use in uses.get(story.id, ()))
        mark = marks.get(story.id)
        shown = "*" if mark and mark.starred else "skipped" if mark and mark.skipped else ""
        rows.append((story.id, date, story.source, used, shown, story.title))
    if stories:
        echo_table(("id", "date", "source", "used in", "", "title"), rows)
    else:
        click.echo("no stories match")


@main.command()
@click.argument("ref", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@user_errors
def show(ref: str, as_json: bool) -> None:
    """Show candidate ID (a unique start of it, or its link) whole: title, link,
    sources, dates, picture, summary as text, the issues it ran in and the
    drafts that hold it.

    \b
    Example:
      newsletter show 9f3c1a
    """
    from .. import api

    report = api.show(desk_settings(), ref)
    if as_json:
        echo_json(report.to_json())
    else:
        _print_story(report)


def _print_story(report: StoryReport) -> None:
    from rich.console import Console

    story = report.story
    console = Console(highlight=False)
    console.print(f"{story.id}  {story.title}", markup=False, style="bold")
    for label, value in _story_lines(report):
        console.print(f"  {label:<10} {value}", markup=False, soft_wrap=True)
    if report.summary_text:
        console.print()
        console.print(report.summary_text, markup=False)


def _story_lines(report: StoryReport) -> list[tuple[str, str]]:
    story, image = report.story, report.story.image
    picture = "none"
    if image is not None:
        size = f"{image.width} x {image.height} px" if image.width and image.height else \
            "size unknown"
        picture = f"{image.src} ({size})"
    lines = [("link", story.url), ("sources", ", ".join(story.sources) or story.source),
             ("published", _moment(story.published))]
    if story.updated:
        lines.append(("updated", _moment(story.updated)))
    lines.append(("collected", _moment(report.first_seen)))
    if story.authors:
        lines.append(("by", ", ".join(story.authors)))
    lines += [("language", story.language or "not given"), ("picture", picture),
              ("ran in", ", ".join(map(str, report.used_in)) or "no issue yet")]
    lines += [("picked in", f"{shown(path)}: {placed.where()} (line {placed.line})")
              for path, placed in report.picked_in]
    return lines


def _moment(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "unknown"


@main.command()
@click.option("--older-than", "cutoff", type=Age(), default="90d", show_default=True,
              metavar="AGE", help="Remove stories published longer ago than this.")
@user_errors
def prune(cutoff: dt.datetime) -> None:
    """Remove old candidates; stories used in an issue are always kept.

    \b
    Example:
      newsletter prune --older-than 90d
    """
    from .. import api

    removed = api.prune(desk_settings(), older_than=cutoff)
    if removed is None:
        click.echo("no candidate store yet: nothing to prune")
    else:
        click.echo(f"removed {removed} stor{'y' if removed == 1 else 'ies'} published "
                   f"before {cutoff.date().isoformat()}")


@main.command()
@click.argument("url")
@user_errors
def add(url: str) -> None:
    """Keep a web page that is in no feed as a candidate, from its own metadata
    (OpenGraph, Twitter card, JSON-LD, canonical link).

    \b
    Example:
      newsletter add https://news.example.org/2026/11/27/harbour-story
    """
    from .. import api

    story = api.add_page(desk_settings(), url)
    click.echo(f"{click.style('added', fg='green')} {story.id} {story.title!r}")
