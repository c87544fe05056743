"""The email's Outlook tables as Node MJML (the reference compiler) makes them.

Outlook for Windows lays an email out by the fixed widths in the MSO conditional
tables; every other client ignores them. mjml-python (MRML) computes those widths
itself, and once disagreed with Node MJML: a padding shorthand with a unitless
zero (`padding="0 24px 12px"`) was ignored, and the block's Outlook table came
out 600 px wide where Node MJML makes it 552. This compiles the example issues'
MJML with both and compares every width in every conditional table, in order.

Node MJML comes from npm: `.ci/run` installs it into .ci/node/ (or point the
MJML_CLI environment variable at an `mjml` executable). On a plain clone without
it the tests are skipped, saying so; `.ci/run` sets NEWSLETTER_REQUIRE_NODE_MJML=1,
and there a missing compiler fails them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import mjml
import pytest
from conftest import REPO

from newsletter import api
from newsletter.desk.lockfile import Lock, load_pinned
from newsletter.desk.lookup import NO_STORE
from newsletter.errors import RenderError
from newsletter.model import Settings
from newsletter.render import Renderer, issue_url
from newsletter.render.assets import resolve_assets
from newsletter.render.env import make_environment

REQUIRE_NODE_MJML = "NEWSLETTER_REQUIRE_NODE_MJML"
NODE_MJML = REPO / ".ci" / "node" / "node_modules" / ".bin" / "mjml"
EXAMPLE_ISSUES = sorted((REPO / "issues").glob("*.yaml"))
# the same compaction `render.email.compile_mjml` does before compiling
GAP_BETWEEN_TAGS = re.compile(r">\s+(?=</?mj-)")
MSO_BLOCK = re.compile(r"<!--\[if mso[^\]]*\]>(.*?)<!\[endif\]-->", re.DOTALL)
TABLE_OR_CELL = re.compile(r"<(table|td)\b[^>]*>")
WIDTH = re.compile(r"\bwidth:\s*(\d+)px|\bwidth=\"(\d+)\"")


def node_mjml() -> Path:
    """The Node MJML command line; a skip (a failure under .ci/run) when it is missing."""
    path = Path(os.environ.get("MJML_CLI") or NODE_MJML)
    if path.is_file() and shutil.which("node"):
        return path
    why = (f"Node MJML is not installed ({path} is missing, or node is not on PATH): run "
           "`bash .ci/run`, which installs it with npm into .ci/node/, or set MJML_CLI")
    if os.environ.get(REQUIRE_NODE_MJML, "") not in ("", "0"):
        pytest.fail(f"{REQUIRE_NODE_MJML} is set, but {why}", pytrace=False)
    pytest.skip(why)


def mso_widths(html: str) -> list[tuple[str, int]]:
    """Each table and cell of the MSO conditional blocks that has a width, in order:
    its tag and the width (the style's, else the attribute's)."""
    found = []
    for block in MSO_BLOCK.findall(html):
        for tag in TABLE_OR_CELL.finditer(block):
            width = WIDTH.search(tag.group())
            if width:
                found.append((tag.group(1), int(width.group(1) or width.group(2))))
    return found


def email_mjml(path: Path, settings: Settings, renderer: Renderer | None = None) -> str:
    issue = load_pinned(path, settings, NO_STORE, lock=Lock(),
                        measure=api.PictureMeasurer(settings)).issue
    assets = resolve_assets(issue, settings.root, issue_url(settings, issue), settings.logo)
    return GAP_BETWEEN_TAGS.sub(">\n", (renderer or Renderer(settings)).email_mjml(issue, assets))


def compile_with_node(cli: Path, source: str) -> str:
    done = subprocess.run(
        [str(cli), "-i", "-s", "--config.validationLevel=skip", "--config.minify=false"],
        input=source, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"Node MJML failed: {done.stderr[-2000:]}"
    return done.stdout


@pytest.mark.parametrize("path", EXAMPLE_ISSUES, ids=[p.stem for p in EXAMPLE_ISSUES])
def test_outlook_tables_are_as_wide_as_node_mjml_makes_them(path: Path,
                                                            settings: Settings) -> None:
    cli = node_mjml()
    source = email_mjml(path, settings)
    ours = mso_widths(mjml.mjml2html(source, fonts={}))
    reference = mso_widths(compile_with_node(cli, source))
    assert len(reference) > 5, "the comparison found no Outlook tables to compare"
    assert ours == reference, "\n".join(
        f"table {at}: mjml-python {a}, Node MJML {b}"
        for at, (a, b) in enumerate(zip(ours, reference, strict=False)) if a != b
    ) or f"{len(ours)} widths from mjml-python, {len(reference)} from Node MJML"


UNITLESS = """<mjml><mj-body><mj-section><mj-column>
<mj-divider padding="0 24px 12px" />
</mj-column></mj-section></mj-body></mjml>"""


def test_the_comparison_sees_a_unitless_shorthand_widen_outlooks_table() -> None:
    # the defect this file guards against, shown on the compilers themselves
    cli = node_mjml()
    ours = mso_widths(mjml.mjml2html(UNITLESS, fonts={}))
    reference = mso_widths(compile_with_node(cli, UNITLESS))
    assert ours != reference
    assert ("table", 552) in reference


def test_a_desk_template_with_a_unitless_shorthand_is_refused_at_its_line(
        tmp_path: Path, settings: Settings) -> None:
    theme = REPO / "templates"
    desk = tmp_path / "templates" / "email"
    desk.mkdir(parents=True)
    macros = (theme / "email" / "_macros.mjml").read_text(encoding="utf-8")
    lines = [*macros.splitlines(), "{# not this one: <mj-spacer padding=\"0 8px\" /> #}",
             '{% macro spacer() %}<mj-spacer padding="0 24px" />{% endmacro %}']
    (desk / "_macros.mjml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    renderer = Renderer(settings, env=make_environment(tmp_path / "templates", theme=theme))
    with pytest.raises(RenderError) as raised:
        email_mjml(REPO / "issues" / "2026-11-27.yaml", settings, renderer)
    error = raised.value
    assert error.location is not None
    assert error.location.path == desk / "_macros.mjml"
    assert error.location.line == len(lines)
    assert 'padding="0px 24px"' in error.hint


def test_a_value_a_template_builds_is_refused_at_the_generated_line(
        tmp_path: Path, settings: Settings) -> None:
    desk = tmp_path / "templates" / "email"
    desk.mkdir(parents=True)
    (desk / "issue.mjml").write_text(
        '{% set zero = 0 %}<mjml><mj-body><mj-section><mj-column>\n'
        '<mj-text padding="{{ zero }} 24px">{{ issue.subject }}</mj-text>\n'
        '</mj-column></mj-section></mj-body></mjml>\n', encoding="utf-8")
    renderer = Renderer(settings, env=make_environment(tmp_path / "templates"))
    with pytest.raises(RenderError) as raised:
        email_mjml(REPO / "issues" / "2026-11-27.yaml", settings, renderer)
    assert raised.value.location is not None
    assert raised.value.location.path == desk / "issue.mjml"
    assert "line 2 of the MJML it generates" in raised.value.message
