"""The docs show only what the CLI has, and their example issue builds.

Every `newsletter ...` call in README.md and docs/*.md is read: in code blocks
as the shell would pass it, parsed by click's own parser for the command it
names (so an unknown command or option, an option without its value, a value
outside a choice, a missing required option or an extra argument fails); in
inline code as a synopsis (`newsletter build [--drafts] [--out DIR]`), whose
commands and option names must exist. An option shown on its own in inline code
(`--since 7d`) belongs to the last command the same paragraph named.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import click
import pytest
from conftest import REPO

from newsletter.cli import main

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
ISSUE_FORMAT = REPO / "docs" / "issue-format.md"
# `newsletter` run as a command: not newsletter.yaml, newsletter-desk or .newsletter/
# its arguments run to a shell operator or comment; quoted ones ("smart lock") are one
CALL = re.compile(r"(?:^|(?<=[\s\"'`=;&|(]))(?:\S*/)?newsletter[ \t]+"
                  r"((?:\"[^\"\n]*\"|'[^'\n]*'|[^\n\"'`&|;#)>])*)")
SPAN = re.compile(r"`([^`]+)`")
# in inline code `|` separates alternatives of a synopsis, not commands of a pipe
SPAN_CALL = re.compile(r"(?:^|(?<=\s))(?:\S*/)?newsletter[ \t]+([^&;>]*)")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z_.]*$")  # COMMAND, ISSUE.yaml is not one: ISSUE, DIR


@dataclass(frozen=True, slots=True)
class Shown:
    """A command line the docs show, and where."""

    where: str  # README.md:12
    argv: tuple[str, ...]  # after `newsletter`
    exact: bool  # from a code block: a real command line, not a synopsis

    def __str__(self) -> str:
        return f"{self.where}: newsletter {shlex.join(self.argv)}"


def split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote in prose
        return text.split()


def shown_in(text: str, name: str) -> Iterator[Shown]:
    """Every `newsletter` call in a markdown text; options in inline code on their
    own come as a call of the command their paragraph named last."""
    lines = text.splitlines()
    fenced: list[tuple[int, str]] = []
    paragraph: list[tuple[int, str]] = []
    in_fence = False
    for number, line in enumerate([*lines, ""], 1):
        if line.lstrip().startswith("```"):
            if in_fence:
                yield from _block_calls(fenced, name)
                fenced = []
            in_fence = not in_fence
            yield from _span_calls(paragraph, name)
            paragraph = []
        elif in_fence:
            fenced.append((number, line))
        elif not line.strip() or line.lstrip().startswith("|"):  # a table row stands alone
            yield from _span_calls(paragraph, name)
            paragraph = [(number, line)] if line.strip() else []
        else:
            paragraph.append((number, line))


def _block_calls(lines: list[tuple[int, str]], name: str) -> Iterator[Shown]:
    joined: list[tuple[int, str]] = []
    for number, line in lines:
        if joined and joined[-1][1].endswith("\\"):  # a continued shell line
            joined[-1] = (joined[-1][0], joined[-1][1][:-1] + " " + line)
        else:
            joined.append((number, line))
    for number, line in joined:
        for match in CALL.finditer(line):
            yield Shown(f"{name}:{number}", tuple(split(match.group(1))), exact=True)


def _span_calls(lines: list[tuple[int, str]], name: str) -> Iterator[Shown]:
    if not lines:
        return
    text = "\n".join(line for _, line in lines)
    last: tuple[str, ...] | None = None
    for span in SPAN.finditer(text):
        where = f"{name}:{lines[0][0] + text.count(chr(10), 0, span.start())}"
        code = span.group(1).replace("\n", " ").strip()
        calls = [tuple(split(m.group(1))) for m in SPAN_CALL.finditer(code)]
        if calls:
            yield from (Shown(where, argv, exact=False) for argv in calls)
            last = calls[-1]
        elif code.startswith("-") and last is not None:
            yield Shown(where, (*_command_words(last), *split(code)), exact=False)


def _command_words(argv: tuple[str, ...]) -> tuple[str, ...]:
    """The words of a call that name its command (`feeds import x` -> feeds import)."""
    try:
        chain, _ = resolve(list(argv), exact=False)
    except click.ClickException:  # reported as the call itself
        return argv[:1]
    return tuple(command.name or "" for command in chain[1:])


def resolve(argv: list[str], *, exact: bool) -> tuple[list[click.Command], list[str]]:
    """The commands `argv` names, outermost first, and the arguments left for the
    last one; the groups' own options are checked on the way."""
    chain: list[click.Command] = [main]
    rest = argv
    while isinstance(chain[-1], click.Group):
        group = chain[-1]
        context = click.Context(group, info_name=group.name)
        if exact:
            _, args, _ = group.make_parser(context).parse_args(list(rest))
        else:
            args = _past_options(group, rest)
        if not args or PLACEHOLDER.match(args[0]):
            break
        command = group.get_command(context, args[0])
        if command is None:
            raise click.UsageError(f"no such command: {args[0]}")
        chain.append(command)
        rest = args[1:]
    return chain, list(rest)


def _past_options(group: click.Group, words: list[str]) -> list[str]:
    """A synopsis after a group's options (`-C DIR`, `-v`), whose names are checked."""
    options = _options(group)
    for at, word in enumerate(words):
        if not word.startswith("-"):
            taken = at > 0 and words[at - 1] in options and not (
                options[words[at - 1]].is_flag or options[words[at - 1]].count)
            if not taken:
                return words[at:]
        else:
            _check_names(group, [word])
    return []


def _options(command: click.Command) -> dict[str, click.Option]:
    context = click.Context(command, info_name=command.name)
    return {name: param for param in command.get_params(context)
            if isinstance(param, click.Option)
            for name in (*param.opts, *param.secondary_opts)}


def problem(shown: Shown) -> str | None:
    """What is wrong with a command line the docs show, or None."""
    try:
        chain, rest = resolve(list(shown.argv), exact=shown.exact)
        command = chain[-1]
        if shown.exact:
            _parse_exactly(command, rest)
        else:
            _check_names(command, rest)
    except click.ClickException as exc:
        return f"{shown}: {exc.format_message()}"
    return None


def _parse_exactly(command: click.Command, args: list[str]) -> None:
    context = click.Context(command, info_name=command.name)
    values, extra, _ = command.make_parser(context).parse_args(args)
    if extra and not isinstance(command, click.Group):
        raise click.UsageError(f"unexpected extra arguments: {' '.join(extra)}")
    for param in command.params:
        value = values.get(param.name) if param.name else None
        if param.required and value is None and "--help" not in args:
            raise click.UsageError(f"missing {'/'.join(param.opts)}")
        if isinstance(param.type, click.Choice) and value is not None \
                and value not in param.type.choices:
            raise click.UsageError(f"{value} is not one of {param.type.choices}")


def _check_names(command: click.Command, words: list[str]) -> None:
    known = _options(command)
    for word in words:
        option = word.strip("[](),|").split("=", 1)[0]
        if re.fullmatch(r"-[A-Za-z]{2,}", option):  # -vv: short options run together
            names = [f"-{letter}" for letter in option[1:]]
        else:
            names = [option] if option.startswith("-") and option.strip("-") else []
        for name in names:
            if name not in known:
                raise click.NoSuchOption(name)


def every_shown() -> list[Shown]:
    return [s for path in DOCS for s in shown_in(path.read_text(encoding="utf-8"), path.name)]


def test_every_command_line_in_the_docs_exists_in_the_cli() -> None:
    shown = every_shown()
    problems = [p for p in map(problem, shown) if p]
    assert not problems, "\n".join(problems)
    named = {s.argv[0] for s in shown if s.argv}
    assert set(main.commands) <= named, f"never shown: {set(main.commands) - named}"


def test_the_docs_show_the_options_of_this_issue() -> None:
    # not vacuous: the lines that show -C, -v/-q, --json and the ages are read
    argvs = [s.argv for s in every_shown()]
    for option in ("-C", "--desk", "-v", "-q", "--json", "--since", "--older-than", "--date"):
        assert any(option in argv for argv in argvs), option


SAMPLE = """\
Build with `newsletter build --drafts`; `--force` renders all, `--fast` does not exist.

```sh
newsletter fech
newsletter candidates --since
newsletter pick 3f9a --into middle
newsletter pick 3f9a
newsletter feeds export extra
newsletter -C ../desk check --offline \\
  --stirct
newsletter feeds import list.opml && newsletter --help
```

| command | what it does |
|---|---|
| `newsletter new` | drafts |
| `--fast` | belongs to no command |

`newsletter export ISSUE (--eml FILE | --html | --txt)` and `newsletter COMMAND --help`.

`newsletter -C DIR COMMAND`, also `-vv`; `newsletter --desk DIR -vv fetch --json` and `-x`.
"""


def test_the_check_would_catch_what_the_docs_could_get_wrong() -> None:
    found = {str(s): problem(s) for s in shown_in(SAMPLE, "sample.md")}
    wrong = {shown.split(": newsletter ", 1)[1]: said for shown, said in found.items() if said}
    assert set(wrong) == {
        "build --fast", "fech", "candidates --since", "pick 3f9a --into middle", "pick 3f9a",
        "feeds export extra", "-C ../desk check --offline --stirct",
        "export ISSUE '(--eml' FILE '|' --html '|' '--txt)'", "fetch -x",
    }, wrong
    assert "sample.md:1: newsletter build --force" in found  # the paragraph's command
    assert "sample.md:9: newsletter -C ../desk check --offline --stirct" in found
    assert not [shown for shown in found if "new --fast" in shown]  # another row's command


def test_the_complete_example_of_the_issue_format_builds(desk: Path) -> None:
    text = ISSUE_FORMAT.read_text(encoding="utf-8")
    section = text.split("## A complete example", 1)[1].split("\n## ", 1)[0]
    intro, example = section.split("```yaml\n", 1)
    example = example.split("```", 1)[0]
    # where the doc says to save it, and the command it says to run
    [target] = re.findall(r"save it as\s+`([^`]+)`", intro)
    [command] = re.findall(r"run\s+`(newsletter build [^`]+)`", intro)
    (desk / target).write_text(example, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "newsletter", *shlex.split(command)[1:]],
                            cwd=desk, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    built = desk / "site" / "issues" / "49-flood-wardens"
    assert {"index.html", "email.html", "email.txt"} <= {p.name for p in built.iterdir()}
    assert "The flood wardens who knock on every door" in (built / "email.txt").read_text(
        encoding="utf-8")


@pytest.mark.parametrize("path", DOCS, ids=lambda path: path.name)
def test_every_doc_is_read(path: Path) -> None:
    assert any(True for _ in shown_in(path.read_text(encoding="utf-8"), path.name))


def test_a_quoted_argument_in_a_code_block_is_one_argument() -> None:
    [shown] = list(_block_calls([(3, 'newsletter candidates --search "smart lock" | less')], "x"))
    assert shown.argv == ("candidates", "--search", "smart lock")


# --- the README's benchmark figures come from a run -------------------------------------


def _bench_readme() -> ModuleType:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_readme", REPO / "bench" / "readme.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readmes_benchmark_figures_are_those_of_the_saved_runs() -> None:
    readme = _bench_readme()
    results = readme.load_results()
    assert set(results) == set(readme.SCRIPTS), "every bench script has a saved run"
    for name, result in results.items():
        assert result["script"] == f"bench/{name}.py"
        assert result["report"]["figures"], f"bench/{name}.py saved no figures"
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme.current_block(text) == readme.block(results), (
        "README.md's benchmark block was edited by hand, or bench/results/ changed without "
        "it: run python bench/readme.py --write-only")


def test_the_readme_block_lists_each_target_with_the_rows_under_it() -> None:
    readme = _bench_readme()
    figures = [
        {"name": "cold build", "value": 10.5, "unit": "s", "target": "< 5", "passed": False},
        {"name": "  baseline: Pelican", "value": 7.4, "unit": "s", "target": "", "passed": None},
        {"name": "  ratio", "value": 1.42, "unit": "x", "target": "", "passed": None},
        {"name": "no-op", "value": 0.16, "unit": "s", "target": "", "passed": None},
        {"name": "  ratio to --help", "value": 2.9, "unit": "x", "target": "<= 3",
         "passed": True},
        {"name": "peak | memory", "value": 1234, "unit": "MiB", "target": "", "passed": None},
    ]
    picked = [f["name"] for f in readme.targeted(figures)]
    # an indented row with a target comes with the figure it is under
    assert picked == ["cold build", "  baseline: Pelican", "  ratio", "no-op",
                      "  ratio to --help"]
    rows = readme.markdown_table(figures)
    assert rows[2] == "| cold build | 10.5 s | &lt; 5 | **missed** |"
    assert rows[3] == "| &emsp;baseline: Pelican | 7.4 s |  |  |"
    assert rows[6] == "| &emsp;ratio to --help | 2.9 x | &lt;= 3 | met |"
    assert rows[7] == "| peak \\| memory | 1,234 MiB |  |  |"
    odd = {"name": "a <b> \\", "value": True, "unit": "", "target": "", "passed": None}
    assert readme.markdown_table([odd])[2] == "| a &lt;b&gt; \\\\ | True |  |  |"


def test_the_readme_block_is_replaced_between_its_markers_only() -> None:
    readme = _bench_readme()
    text = f"before\n{readme.BEGIN}\nold figures\n{readme.END}\nafter\n"
    assert readme.with_block(text, "NEW") == "before\nNEW\nafter\n"
    with pytest.raises(readme.ReadmeError, match="markers"):
        readme.with_block("before\nafter\n", "NEW")
    with pytest.raises(readme.ReadmeError, match="markers"):
        readme.with_block(text + readme.BEGIN, "NEW")


def test_a_bench_scripts_json_is_found_after_its_table() -> None:
    readme = _bench_readme()
    printed = 'figure  value\n------  -----\n{"inline": 1}\n\n{\n  "figures": [\n    1\n  ]\n}\n'
    assert readme.last_json(printed) == {"figures": [1]}
    assert readme.last_json("no json here\n") is None
    assert readme.last_json("{\n  broken\n") is None
