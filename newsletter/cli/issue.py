"""Commands over issue files: build, check, send-test, export, preview, init."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import NewsletterError
from ._base import (
    count,
    desk_folder,
    desk_settings,
    echo_json,
    hint,
    main,
    options,
    shown,
    user_errors,
)

if TYPE_CHECKING:
    from ..api import CheckReport, CheckRun, SiteReport

#: From this many issues on, a build shows a progress bar instead of a line per issue.
PROGRESS_FROM = 6


@main.command()
@click.argument("issues", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the site here instead of the desk's output folder (site/).")
@click.option("--drafts", is_flag=True,
              help="Build drafts too (they get pages, but stay out of the index, feed and "
                   "sitemap).")
@click.option("--force", is_flag=True, help="Rebuild every issue, even the unchanged ones.")
@click.option("--refresh", is_flag=True,
              help="Resolve story: references from the candidate store again, not from the "
                   "issue's lock file.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Processes to render with (default: one per core).")
@click.option("--offline", is_flag=True,
              help="Measure no picture on the web: a picture whose size neither the issue "
                   "nor its lock file gives is left out, with a warning.")
@user_errors
def build(issues: tuple[Path, ...], out_dir: Path | None, drafts: bool, force: bool,
          refresh: bool, jobs: int | None, offline: bool) -> None:
    """Build the archive site: every ready issue's web page, email and text,
    with the index, feed, sitemap and search around them.

    Only issues whose files changed are rendered again. The new site replaces
    the old one in one step: if anything fails, the old site stays as it was.
    ISSUES named on the command line are built even when they are drafts.

    \b
    Example:
      newsletter build
      newsletter build --drafts
      newsletter build issues/2026-11-27.yaml
    """
    from .. import api

    settings = desk_settings(issues[0] if issues else None)
    if not issues and not api.has_issue_files(settings):
        raise NewsletterError(f"no issue files in {settings.issues_dir}",
                              hint='write one, e.g. issues/2026-11-27.yaml ("newsletter init" '
                                   "shows the format)")
    import signal

    # a cancelled CI job sends SIGTERM: roll back as for Ctrl-C
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with _BuildProgress(enabled=not options().quiet) as progress:
            report = api.build_site(settings, out_dir=out_dir, drafts=drafts, named=issues,
                                    force=force, refresh=refresh, jobs=jobs, offline=offline,
                                    on_planned=progress.planned, on_rendered=progress.rendered)
    except KeyboardInterrupt:
        click.echo("interrupted: no half-built site was left behind", err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        # the staging folder is gone already; leave now, with the shell's code for
        # Ctrl-C, rather than risk interpreter shutdown dying of the same signal
        os._exit(130)
    _report(report)


def _report(report: SiteReport) -> None:
    site = shown(report.out_dir)
    if report.unchanged:
        click.echo(f"{site}/ is up to date ({count(len(report.entries), 'issue')}); "
                   "--force rebuilds it")
    else:
        for source, slug in list(report.rendered.items())[:PROGRESS_FROM - 1]:
            click.echo(f"{click.style('built', fg='green')} {shown(source)} -> "
                       f"{site}/issues/{slug}/  index.html email.html email.txt")
        if len(report.rendered) >= PROGRESS_FROM:
            click.echo(f"  ... and {len(report.rendered) - PROGRESS_FROM + 1} more")
        drafts = sum(e.status == "draft" for e in report.entries)
        with_drafts = f" and {count(drafts, 'draft')}" if drafts else ""
        click.echo(f"{click.style('wrote', fg='green')} {site}/: "
                   f"{count(len(report.entries) - drafts, 'issue')}{with_drafts} "
                   f"({len(report.rendered)} rendered, {report.kept} unchanged), "
                   "index.html, feed.xml, sitemap.xml")
        hint(f"  open {site}/index.html to read it")
    if report.skipped_drafts:
        click.echo(f"skipped {count(report.skipped_drafts, 'draft')}; "
                   "build them with --drafts")
    for source, when in report.held.items():
        click.echo(f"{click.style('held', fg='yellow')} {shown(source)} until {_moment(when)}: "
                   "kept off the site until then; the first build after publishes it")
    for source, size in report.clipped.items():
        click.echo(f"{click.style('warning', fg='yellow')}: {shown(source)}: the email is "
                   f"{size / 1024:,.0f} KB; Gmail clips emails after 102 KB, hiding the end "
                   "and the unsubscribe link", err=True)
        click.echo("  hint: shorten the issue (fewer deep dives, shorter blurbs); "
                   '"newsletter check" says more', err=True)


def _moment(when: dt.datetime) -> str:
    """A time as the editor wrote it: 2026-12-11 07:00 +01:00, or 00:00 UTC."""
    minutes = int((when.utcoffset() or dt.timedelta()).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    offset = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}" if minutes else "UTC"
    return f"{when:%Y-%m-%d %H:%M} {offset}"


class _BuildProgress:
    """A progress bar while many issues render; quiet for a few."""

    def __init__(self, *, enabled: bool = True) -> None:
        self._enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _BuildProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def planned(self, count: int) -> None:
        if self._enabled and count >= PROGRESS_FROM and sys.stderr.isatty():
            # rich is imported only here: it costs ~20 ms, more than building one issue
            from rich.progress import Progress

            # no refresh thread: with one, the render workers could not be forked
            self._bar = Progress(transient=True, auto_refresh=False)
            self._bar.start()
            self._task = self._bar.add_task("rendering issues", total=count)

    def rendered(self, _source: Path) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)
            self._bar.refresh()


@main.command()
@click.argument("issues", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--all", "every", is_flag=True, help="Check every ready issue.")
@click.option("--offline", is_flag=True, help="Do not check links and pictures on the web.")
@click.option("--strict", is_flag=True, help="Fail on warnings too, not only on errors.")
@click.option("--notes", is_flag=True, help="Also print the notes, not just their number.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the findings as one JSON document (README: check --json).")
@user_errors
def check(issues: tuple[Path, ...], every: bool, offline: bool, strict: bool, notes: bool,
          as_json: bool) -> None:
    """Find what would embarrass the desk before an issue goes out: a clipped
    email, dead links, pictures without alt text, CSS email clients ignore,
    a story that already ran. With no ISSUES, checks the newest issue.

    Exits 1 on any error (and on warnings with --strict).

    \b
    Example:
      newsletter check
      newsletter check --all --strict --offline
      newsletter check --offline --json
    """
    from .. import api
    from ..model import Severity

    settings = desk_settings(issues[0] if issues else None)
    run = api.check_issues(api.issues_to_check(settings, issues, every=every), settings,
                           offline=offline)
    if as_json:
        echo_json(run.to_json())
    else:
        _print_run(run, notes=notes)
    counts = run.counts
    if counts[Severity.ERROR] or (strict and counts[Severity.WARNING]):
        sys.exit(1)


def _print_run(run: CheckRun, *, notes: bool) -> None:
    from ..model import Severity

    for report in run.reports:
        _print_report(report, notes=notes)
    counts = run.counts
    more = "" if notes or not counts[Severity.NOTE] else " (--notes shows them)"
    click.echo(f"{count(counts[Severity.ERROR], 'error')}, "
               f"{count(counts[Severity.WARNING], 'warning')}, "
               f"{count(counts[Severity.NOTE], 'note')}{more} in "
               f"{count(len(run.reports), 'issue')}")
    if run.all_links_unreachable:
        click.echo("every link was unreachable: is this computer offline? "
                   "(--offline skips the links)", err=True)


def _print_report(report: CheckReport, *, notes: bool) -> None:
    from ..model import Severity

    colours = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.NOTE: "blue"}
    loud = [f for f in report.findings if f.severity > Severity.NOTE]
    click.echo(click.style(shown(report.source), bold=True) +
               ("" if loud else "  " + click.style("no errors or warnings", fg="green")))
    for severity in sorted(Severity, reverse=True):
        group = [f for f in report.findings if f.severity == severity]
        if not group or (severity is Severity.NOTE and not notes):
            continue
        click.echo(f"  {click.style(str(severity), fg=colours[severity], bold=True)} "
                   f"({len(group)})")
        for finding in group:
            where = f"{finding.location}: " if finding.location else ""
            click.echo(f"    {where}{finding.message} [{finding.code}]")
            if finding.hint:
                click.echo(f"      hint: {finding.hint}")


@main.command(name="send-test")
@click.argument("issue", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--to", "recipients", multiple=True, required=True, metavar="ADDRESS",
              help="Who gets the test (repeat for more).")
@user_errors
def send_test(issue: Path, recipients: tuple[str, ...]) -> None:
    """Send ISSUE to yourself first: subject marked [TEST], the text and HTML
    parts, through the SMTP server in newsletter.yaml (password from the
    environment variable NEWSLETTER_SMTP_PASSWORD).

    \b
    Example:
      newsletter send-test issues/2026-11-27.yaml --to editor@example.org
    """
    from .. import api

    message = api.send_test(issue, desk_settings(issue), list(recipients))
    click.echo(f"{click.style('sent', fg='green')} \"{message['Subject']}\" to "
               f"{', '.join(recipients)}")


@main.command()
@click.argument("issue", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--eml", "eml", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the whole message (both parts, headers) to this .eml file.")
@click.option("--html", "html", is_flag=True, help="Print the HTML part, to paste into an ESP.")
@click.option("--text", "text", is_flag=True, help="Print the plain-text part.")
@user_errors
def export(issue: Path, eml: Path | None, html: bool, text: bool) -> None:
    """Export ISSUE for your email service: an .eml file, or the HTML or text
    part to paste. The unsubscribe link is the placeholder your service
    expects (unsubscribe: in newsletter.yaml).

    \b
    Example:
      newsletter export issues/2026-11-27.yaml --eml issue-48.eml
      newsletter export issues/2026-11-27.yaml --html > issue-48.html
    """
    from .. import api

    if [bool(eml), html, text].count(True) != 1:
        raise NewsletterError("say what to export", hint="pass one of --eml FILE, --html, --text")
    settings = desk_settings(issue)
    if eml is not None:
        api.export_eml(issue, settings, eml)
        click.echo(f"{click.style('wrote', fg='green')} {shown(eml)}")
        return
    message = api.email_message(issue, settings)
    part = message.get_body(("html",) if html else ("plain",))
    assert part is not None
    click.echo(part.get_content(), nl=False)


@main.command()
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to serve on (0: any free one).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to serve on. Anything but this computer shows your drafts to "
                   "the network.")
@click.option("--open", "open_browser", is_flag=True, help="Open the preview in the browser.")
@click.option("--allow-writes", is_flag=True,
              help="With --host: let the desk edit issue files and marks from other "
                   "computers too (on this computer it always may).")
@user_errors
def preview(port: int, host: str, open_browser: bool, allow_writes: bool) -> None:
    """The desk in the browser: the candidates to star, skip and pick, the issue's
    slots to order and edit, its findings, and the issue as readers will see it
    (the web page, the email at 600 and 375 px, the text part), reloaded on every
    save. Every action edits the issue's YAML file, as a text editor would.

    \b
    Example:
      newsletter preview --open
    """
    import time
    import webbrowser

    from .. import api

    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"{click.style('warning:', fg='yellow', bold=True)} serving on {host}: "
                   "anyone who can reach this computer can read your drafts", err=True)
        if allow_writes:
            click.echo(f"{click.style('warning:', fg='yellow', bold=True)} --allow-writes: "
                       "anyone who can reach this computer and open the desk can change "
                       "your issue files", err=True)
        else:
            click.echo("the desk is read-only to the network: --allow-writes lets it edit",
                       err=True)

    def changed(paths: set[Path], problems: list[str]) -> None:
        names = ", ".join(sorted(shown(p) for p in paths)[:3])
        click.echo(f"{click.style('changed', fg='green')} {names}")
        for problem in problems:
            click.echo(f"{click.style('error:', fg='red', bold=True)} {problem}", err=True)

    server = api.preview_server(desk_folder(), host=host, port=port, on_change=changed,
                                allow_writes=allow_writes)
    server.start()
    click.echo(f"previewing at {server.url}  (Ctrl-C to stop)")
    if open_browser:
        webbrowser.open(server.url)
    try:
        while True:
            time.sleep(3600)  # the server and the watcher run on their own threads
    except KeyboardInterrupt:
        server.stop()
        click.echo("stopped")


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@user_errors
def init(folder: Path) -> None:
    """Create a new desk in FOLDER with settings, an example issue and a publish workflow.

    \b
    Example:
      newsletter init my-desk && cd my-desk && newsletter build
    """
    from .. import api

    for path in api.init_desk(folder):
        click.echo(f"{click.style('wrote', fg='green')} {shown(path)}")
    hint(f'next: cd {folder} and run "newsletter build"')
