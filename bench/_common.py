"""Pieces every benchmark script shares: timings, the figures table, errors."""

from __future__ import annotations

import json
import select
import shutil
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "LOCAL_ONLY_ARG", "REPO", "BenchError", "Figure",
           "ServerProcess", "Timing", "copy_example_desk", "counts_since", "run", "table",
           "time_calls", "tree_memory"]

REPO = Path(__file__).resolve().parent.parent
#: Debian's Chromium, launched with the flags of tests/conftest.py.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
#: Chromium resolves no name but 127.0.0.1, so nothing leaves the machine. (Not a
#: Playwright route as in the tests: a routed request passes through Playwright,
#: which would add to the times.)
LOCAL_ONLY_ARG = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


@dataclass(frozen=True, slots=True)
class Figure:
    """One row of the results table."""

    name: str
    value: float | int | str
    unit: str
    target: str = ""
    passed: bool | None = None


@dataclass(frozen=True, slots=True)
class Timing:
    """Median and minimum of repeated measurements, in milliseconds."""

    median_ms: float
    min_ms: float
    runs: int

    @classmethod
    def of(cls, times_ms: Sequence[float]) -> Timing:
        return cls(statistics.median(times_ms), min(times_ms), len(times_ms))


class BenchError(Exception):
    """A step of the benchmark could not run."""


def _shell(cmd: Sequence[str | Path]) -> str:
    return " ".join(str(c) for c in cmd)


def table(figures: Sequence[Figure]) -> str:
    """A plain aligned table of the figures."""
    rows = [("figure", "value", "unit", "target", "result")]
    for fig in figures:
        value = f"{fig.value:,}" if isinstance(fig.value, int | float) else fig.value
        verdict = "" if fig.passed is None else ("pass" if fig.passed else "FAIL")
        rows.append((fig.name, value, fig.unit, fig.target or "-", verdict or "-"))
    widths = [max(len(row[col]) for row in rows) for col in range(5)]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].ljust(widths[2]),
                 row[3].ljust(widths[3]), row[4]]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def time_calls(call: Callable[[], object], count: int) -> Timing:
    """In-process wall time: one untimed warm-up call, then `count` timed calls."""
    call()
    times = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return Timing.of(times)


def run(cmd: Sequence[str | Path], *, cwd: Path | None = None,
        timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a command with a timeout; a non-zero exit or a timeout raises BenchError."""
    try:
        done = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"timed out after {timeout:.0f}s: {_shell(cmd)}") from exc
    except OSError as exc:
        raise BenchError(f"could not run {_shell(cmd)}: {exc}") from exc
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()
        raise BenchError(f"exit {done.returncode} from {_shell(cmd)}:\n{output}")
    return done


def tree_memory(root: int) -> dict[int, tuple[int, int]]:
    """(VmRSS, VmHWM) in KiB of `root` and each of its descendants, by pid, from /proc."""
    found: dict[int, tuple[int, int]] = {}
    stack = [root]
    while stack:
        pid = stack.pop()
        if pid in found:
            continue
        try:
            fields = dict(line.split(":", 1) for line in
                          Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
            found[pid] = (int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0]))
            for task in Path(f"/proc/{pid}/task").iterdir():  # children of every thread
                stack.extend(int(child) for child in (task / "children").read_text().split())
        except (OSError, KeyError, ValueError):  # gone meanwhile, a zombie, or no /proc
            continue
    return found


def counts_since(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """What a test server counted between two readings of its counters."""
    return {name: after[name] - before.get(name, 0) for name in sorted(after)
            if after[name] != before.get(name, 0)}


def copy_example_desk(folder: Path) -> Path:
    """The example desk (settings, issues, pictures, and the feed files its
    settings read, so `api.fetch` works offline) copied into `folder`/desk."""
    desk = folder / "desk"
    desk.mkdir()
    shutil.copy(REPO / "newsletter.yaml", desk)
    shutil.copytree(REPO / "issues", desk / "issues")
    shutil.copytree(REPO / "examples" / "images", desk / "examples" / "images")
    shutil.copytree(REPO / "examples" / "feeds", desk / "examples" / "feeds")
    return desk


class ServerProcess:
    """A test server in a subprocess of the bench: it prints one JSON line (its
    ports) when ready, counts requests at `/_stats`, and stops when its stdin closes."""

    def __init__(self, cmd: Sequence[str], *, what: str, start_timeout: float,
                 http_timeout: float) -> None:
        self.http_timeout = http_timeout
        self.bases: list[str] = []
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], start_timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.stop()
            raise BenchError(f"{what} did not start within {start_timeout:.0f}s")
        self.ready: object = json.loads(line)

    def stats(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.bases[0]}/_stats",
                                    timeout=self.http_timeout) as reply:
            counts: dict[str, int] = json.loads(reply.read())
        return counts

    def stop(self) -> None:
        if self.proc.poll() is None:
            if self.proc.stdin:
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()
