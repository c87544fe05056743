"""Corpus tests: skipped on a plain clone, saying where the corpora come from; failed,
never skipped, when NEWSLETTER_REQUIRE_CORPORA is set (CI, with ../shared beside it).

Each case runs a small test module in a pytest of its own, with our conftest's hooks
and its corpora folder pointed at a folder of the case's choosing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import REPO, REQUIRE_CORPORA

RUN_TIMEOUT = 120  # a hang guard: an inner pytest run takes a few seconds

TESTS = """
    import pytest
    from newsletter_conftest import CORPORA, corpus_json

    CASES = corpus_json("index.json", "cases")

    @pytest.mark.corpus
    def test_reads_a_file():
        assert (CORPORA / "index.json").read_text(encoding="utf-8")

    @pytest.mark.corpus
    @pytest.mark.parametrize("case", CASES)
    def test_each_case(case):
        assert case

    def test_needs_no_corpus():
        pass
"""


def run_tests(tmp_path: Path, corpora: Path, *, required: bool,
              tests: str = TESTS) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(textwrap.dedent(f"""
        import importlib.util, sys
        from pathlib import Path

        spec = importlib.util.spec_from_file_location(
            "newsletter_conftest", {str(REPO / "tests" / "conftest.py")!r})
        ours = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = ours
        spec.loader.exec_module(ours)
        ours.CORPORA = Path({str(corpora)!r})
        pytest_collection_modifyitems = ours.pytest_collection_modifyitems
        pytest_runtest_setup = ours.pytest_runtest_setup
    """), encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --strict-markers -rfEs\n"
                                         "markers =\n    corpus: reads the corpora\n",
                                         encoding="utf-8")
    (tmp_path / "test_corpus.py").write_text(textwrap.dedent(tests), encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if k != REQUIRE_CORPORA and not k.startswith("PYTEST")}
    env["COLUMNS"] = "400"  # summary lines whole
    if required:
        env[REQUIRE_CORPORA] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
                          cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT, check=False)


def counts(done: subprocess.CompletedProcess[str]) -> dict[str, int]:
    summary = done.stdout.strip().splitlines()[-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|error)",
                                                   summary)}


def corpora_with_cases(tmp_path: Path) -> Path:
    corpora = tmp_path / "corpora"
    corpora.mkdir()
    (corpora / "index.json").write_text('{"cases": [1, 2]}', encoding="utf-8")
    return corpora


def test_without_the_corpora_corpus_tests_skip_saying_where_they_come_from(
        tmp_path: Path) -> None:
    done = run_tests(tmp_path, tmp_path / "absent", required=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert counts(done) == {"passed": 1, "skipped": 2}, done.stdout
    reasons = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(reasons) == 2, done.stdout
    for reason in reasons:
        assert "corpus test: needs the shared test corpora in ../shared/corpora" in reason
        assert "SOURCES.md" in reason


def test_with_the_corpora_corpus_tests_run(tmp_path: Path) -> None:
    corpora = corpora_with_cases(tmp_path)
    for required in (False, True):
        done = run_tests(tmp_path, corpora, required=required)
        assert done.returncode == 0, done.stdout + done.stderr
        assert counts(done) == {"passed": 4}, done.stdout


def test_required_corpora_that_are_absent_stop_the_run_at_the_missing_file(
        tmp_path: Path) -> None:
    done = run_tests(tmp_path, tmp_path / "absent", required=True)
    assert done.returncode != 0
    assert "skipped" not in done.stdout.strip().splitlines()[-1]
    assert f"{REQUIRE_CORPORA} is set" in done.stdout
    assert "index.json" in done.stdout  # the file that is missing is named


def test_required_corpora_that_are_absent_fail_each_corpus_test(tmp_path: Path) -> None:
    """Tests that locate their corpus files only when they run fail at setup."""
    lazy = TESTS.replace('CASES = corpus_json("index.json", "cases")', "CASES = [1]")
    done = run_tests(tmp_path, tmp_path / "absent", required=True, tests=lazy)
    assert counts(done) == {"passed": 1, "error": 2}, done.stdout  # errors at set-up
    failed = [line for line in done.stdout.splitlines() if line.startswith("ERROR")]
    assert len(failed) == 2 and all(f"Failed: {REQUIRE_CORPORA} is set" in line for line in failed)


def test_required_corpus_tests_that_find_nothing_fail_instead_of_skipping(
        tmp_path: Path) -> None:
    corpora = tmp_path / "corpora"
    corpora.mkdir()
    (corpora / "index.json").write_text('{"cases": []}', encoding="utf-8")
    done = run_tests(tmp_path, corpora, required=True)
    assert counts(done) == {"passed": 2, "error": 1}, done.stdout
    assert re.search(rf"ERROR test_corpus.py::test_each_case.*Failed: {REQUIRE_CORPORA} is "
                     "set, but this corpus test found nothing to read", done.stdout), done.stdout
    assert run_tests(tmp_path, corpora, required=False).returncode == 0


# --- .ci/run and the README ---------------------------------------------------------------

CI_RUN = (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_ci_requires_the_corpora_when_they_are_beside_the_clone(tmp_path: Path) -> None:
    block = re.search(r"^if \[ -d \.\./shared/corpora \]; then\n.*?^fi$", CI_RUN, re.M | re.S)
    assert block, ".ci/run should set the variable when ../shared/corpora is there"
    assert CI_RUN.index(block.group()) < CI_RUN.index("-m pytest")
    clone = tmp_path / "clone"
    clone.mkdir()
    env = {k: v for k, v in os.environ.items() if k != REQUIRE_CORPORA}

    def variable() -> str:
        done = subprocess.run(
            ["bash", "-c", f'{block.group()}\necho "${{{REQUIRE_CORPORA}:-unset}}"'],
            cwd=clone, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=True)
        return done.stdout.strip()

    assert variable() == "unset"
    (tmp_path / "shared" / "corpora").mkdir(parents=True)
    assert variable() == "1"


def test_the_readme_says_what_a_plain_clone_runs() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    setup = " ".join(readme.split("## Set up", 1)[1].split("\n## ", 1)[0].split())
    assert "bash .ci/run" in setup
    assert "pytest -m corpus" in setup and "../shared/corpora" in setup
    assert "a plain clone skips them, saying so, and runs everything else" in setup
