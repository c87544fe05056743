"""_workers: pool workers end with the process that started them, kill -9 included.

Each test runs a real `newsletter` process (or a small script over the
library) in a session of its own, so every process it starts, however
deep, is found in /proc by its session id, even after it has been
re-parented. The parent is killed with SIGKILL, which it cannot catch, and
the test waits (bounded) for the whole session to be gone. Whatever is
left at the end is killed by pid, so a failing test leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_site import small_issue

from newsletter import _workers
from newsletter.collect import FetchOptions, fetch_feeds
from newsletter.model import FeedSpec

TESTS = Path(__file__).resolve().parent
GONE_WITHIN = 20.0  # a hang guard: on Linux the kernel kills them at once
STARTED_WITHIN = 120.0  # spawning Python processes on a loaded machine
MARKS = "NEWSLETTER_TEST_MARKS"

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads /proc")


# --- processes, as /proc sees them ----------------------------------------------------


def session(sid: int) -> list[int]:
    """Live processes of session `sid` (zombies are dead: only their exit status is left)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it ended while we looked
            continue
        state, _ppid, _group, member_of = stat.rpartition(")")[2].split()[:4]
        if int(member_of) == sid and state != "Z":
            members.append(int(entry.name))
    return sorted(members)


def describe(pids: list[int]) -> str:
    lines = []
    for pid in pids:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            command = b"?"
        lines.append(f"{pid}: {command.decode(errors='replace')[:120]}")
    return "\n".join(lines)


def wait_until(done: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def start(command: list[str], *, cwd: Path, env: dict[str, str] | None = None
          ) -> subprocess.Popen[bytes]:
    """`command` as the leader of a new session, which every process it starts joins."""
    return subprocess.Popen(command, cwd=cwd, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(TESTS), **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture()
def sessions() -> Iterator[list[subprocess.Popen[bytes]]]:
    """The leaders a test starts; whatever is left of their sessions is killed at the end."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for leader in started:
        for pid in session(leader.pid):
            os.kill(pid, signal.SIGKILL)
        leader.kill()
        leader.wait(GONE_WITHIN)
        if leader.stderr:
            leader.stderr.close()


def kill_and_expect_all_gone(leader: subprocess.Popen[bytes]) -> None:
    """SIGKILL the leader; every process of its session must end by itself."""
    os.kill(leader.pid, signal.SIGKILL)
    leader.wait(GONE_WITHIN)  # reap it: a zombie is dead, but a reaped one is tidier
    assert wait_until(lambda: not session(leader.pid), GONE_WITHIN), (
        f"left running after the parent was killed:\n{describe(session(leader.pid))}")


# --- the fetch pool ---------------------------------------------------------------------


def mark_and_hang(data: bytes, **kwargs: Any) -> Any:
    """A picklable parser that says it is running (a file named for its process), then
    never ends (bounded, so nothing outlives a broken test for long)."""
    Path(os.environ[MARKS], str(os.getpid())).touch()
    for _ in range(600):
        time.sleep(1)


def fetch_and_hang(root: str) -> None:
    """The child process: fetch two feeds from `root` whose parses never end."""
    feeds = [FeedSpec(name=name, path=f"{name}.xml") for name in ("one", "two")]
    fetch_feeds(feeds, {}, root=Path(root), now=dt.datetime.now(dt.UTC),
                options=FetchOptions(workers=2, parse_timeout=600), parse=mark_and_hang)


def test_fetch_workers_end_when_the_fetch_is_killed(
        tmp_path: Path, sessions: list[subprocess.Popen[bytes]]) -> None:
    for name in ("one", "two"):
        (tmp_path / f"{name}.xml").write_text(f"<rss><channel><title>{name}</title>"
                                              "</channel></rss>", encoding="utf-8")
    marks = tmp_path / "marks"
    marks.mkdir()
    fetch = start([sys.executable, "-c", "import sys, test_workers; "
                   "test_workers.fetch_and_hang(sys.argv[1])", str(tmp_path)],
                  cwd=tmp_path, env={MARKS: str(marks)})
    sessions.append(fetch)
    assert wait_until(lambda: len(list(marks.iterdir())) == 2, STARTED_WITHIN), (
        "the two workers never started parsing")
    workers = {int(mark.name) for mark in marks.iterdir()}
    assert workers <= set(session(fetch.pid))  # busy, and in the fetch's session
    kill_and_expect_all_gone(fetch)  # the workers, and multiprocessing's resource tracker


# --- the build pool ---------------------------------------------------------------------


def test_build_workers_end_when_the_build_is_killed(
        desk: Path, sessions: list[subprocess.Popen[bytes]]) -> None:
    for number in range(1, 121):  # far more than POOL_FROM: rendered by a pool for seconds
        small_issue(desk, number)
    build = start([sys.executable, "-m", "newsletter", "build", "--jobs", "2"], cwd=desk)
    sessions.append(build)
    assert wait_until(lambda: len(session(build.pid)) >= 3 or build.poll() is not None,
                      STARTED_WITHIN), "the build never started its workers"
    assert build.poll() is None, "the build ended before its workers were seen"
    kill_and_expect_all_gone(build)


# --- the portable way: a thread watching the parent ------------------------------------------


def watched_orphan() -> None:
    """A grandchild that only has the watching thread (no prctl); marks, then waits."""
    _workers.watch_parent(os.getppid(), interval=0.1)
    Path(os.environ[MARKS], str(os.getpid())).touch()
    for _ in range(600):
        time.sleep(1)


def parent_of_watched_orphan() -> None:
    subprocess.Popen([sys.executable, "-c", "import test_workers; test_workers.watched_orphan()"])
    for _ in range(600):
        time.sleep(1)


def test_a_watched_worker_exits_when_its_parent_dies_without_prctl(
        tmp_path: Path, sessions: list[subprocess.Popen[bytes]]) -> None:
    parent = start([sys.executable, "-c",
                    "import test_workers; test_workers.parent_of_watched_orphan()"],
                   cwd=tmp_path, env={MARKS: str(tmp_path)})
    sessions.append(parent)
    assert wait_until(lambda: any(tmp_path.iterdir()), STARTED_WITHIN), "it never started"
    kill_and_expect_all_gone(parent)
