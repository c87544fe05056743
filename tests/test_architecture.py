"""The shape of the package holds: the import rules of ARCHITECTURE.md, and no circles.

Every import of ours is read from the source (module level, inside functions and
under TYPE_CHECKING alike: an import is a dependency wherever it is written) and
checked against the table below, which is ARCHITECTURE.md's "Dependency rules".
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO

PACKAGE = REPO / "newsletter"

# The shared ground every stage may stand on; each of these imports only what is listed.
CORE = {
    "newsletter": set(),  # the package itself: __version__
    "newsletter.model": {"newsletter.model.common", "newsletter.model.collect",
                         "newsletter.model.issue"},
    "newsletter.model.common": set(),
    "newsletter.model.collect": {"newsletter.model.common"},
    "newsletter.model.issue": {"newsletter.model.common"},
    "newsletter.errors": {"newsletter.model"},
    "newsletter.sanitize": {"newsletter.model", "newsletter.errors", "newsletter._urls"},
    "newsletter._urls": set(),
    "newsletter._cache": set(),
    "newsletter._workers": set(),
    "newsletter._files": set(),
    "newsletter._http": {"newsletter"},
}
# part -> the parts it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "core": set(),  # finer: CORE above
    "desk": {"core"},
    "collect": {"core"},
    "render": {"core"},
    "publish": {"core", "desk", "render"},
    "check": {"core", "render"},
    "send": {"core"},
    "preview.server": set(),  # the generic HTTP layer: nothing of ours
    "preview": {"core", "desk", "render", "preview.server"},
    "api": {"core", "desk", "collect", "render", "publish", "check", "send", "preview",
            "preview.server"},
    "cli": {"api"},  # and, finer: model, errors, the package's __version__ (CLI_CORE)
}
CLI_CORE = {"newsletter", "newsletter.model", "newsletter.errors"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    base = REPO.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def part_of(module: str) -> str:
    if module in CORE:
        return "core"
    rest = module.split(".")[1:]
    if rest[0] == "__main__":
        return "cli"
    if rest[0] == "preview" and rest[1:2] == ["server"]:
        return "preview.server"
    return rest[0]


def imports_of(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module of ours) for every import in the file."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names
                        if a.name.split(".")[0] == "newsletter")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif (node.module or "").split(".")[0] == "newsletter":
                target = node.module or ""
            else:
                continue
            for alias in node.names:  # `from . import api` imports the module api
                sub = f"{target}.{alias.name}"
                yield node.lineno, sub if is_module(sub) else target


def graph() -> dict[str, list[tuple[int, str]]]:
    return {module_name(p): list(imports_of(p)) for p in sorted(PACKAGE.rglob("*.py"))}


def broken_rules(imports: dict[str, list[tuple[int, str]]]) -> list[str]:
    broken = []
    for module, imported in imports.items():
        part = part_of(module)
        for line, target in imported:
            other = part_of(target)
            if other == part and part != "core":
                continue
            if part == "core":
                allowed = target in CORE[module]
            elif part == "cli":
                allowed = other == "api" or target in CLI_CORE
            else:
                allowed = other in ALLOWED[part]
            if not allowed:
                broken.append(f"{module}:{line} imports {target} ({part} -> {other})")
    return broken


def circle(imports: dict[str, list[tuple[int, str]]]) -> list[str]:
    """One import circle, or [] (graphlib finds it)."""
    edges = {m: {t for _, t in imported if t != m} for m, imported in imports.items()}
    try:
        graphlib.TopologicalSorter(edges).prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return []


def test_every_import_follows_the_dependency_rules() -> None:
    broken = broken_rules(graph())
    assert not broken, "\n".join(broken)


def test_there_are_no_import_circles() -> None:
    assert circle(graph()) == []


def test_the_rules_name_every_part_of_the_package() -> None:
    parts = {part_of(m) for m in graph()}
    assert parts <= set(ALLOWED), parts - set(ALLOWED)


@pytest.mark.parametrize(("module", "part"), [
    ("newsletter.desk.config", "desk"), ("newsletter.preview.server", "preview.server"),
    ("newsletter.preview.desk", "preview"), ("newsletter.__main__", "cli"),
    ("newsletter.errors", "core"),
])
def test_parts_are_told_apart(module: str, part: str) -> None:
    assert part_of(module) == part


def test_the_checks_would_catch_a_broken_rule_and_a_circle() -> None:
    """Not vacuous: a stage importing another, the CLI going past api, a circle."""
    real = graph()
    assert broken_rules({**real, "newsletter.render.probe": [(1, "newsletter.collect.store")]}) \
        == ["newsletter.render.probe:1 imports newsletter.collect.store (render -> collect)"]
    assert broken_rules({"newsletter.cli.probe": [(3, "newsletter.check.links")]}) \
        == ["newsletter.cli.probe:3 imports newsletter.check.links (cli -> check)"]
    assert broken_rules({"newsletter.model": [(9, "newsletter.errors")]})
    looped = {**real, "newsletter.model": [(1, "newsletter.api")]}
    assert "newsletter.model" in circle(looped)
