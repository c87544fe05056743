"""Pool workers that never outlive the process that started them.

A worker process is on its own once started: when its parent is killed
(`kill -9`, the OOM killer, a CI job torn down), nobody shuts the pool down,
and the workers wait on their task pipe for ever, or go on burning a core on
a hostile feed; multiprocessing's resource tracker lives as long as any of
them. `start_worker`, run first in every worker of the fetch and build
pools, ties a worker's life to its parent's twice:

- Linux: `prctl(PR_SET_PDEATHSIG, SIGKILL)`. The kernel kills the worker
  when the *thread* that started it ends, not only the process, so a pool
  must be started from a thread that lives as long as the pool (both pools
  are: their workers are started by the thread that uses the pool, or by
  the pool's own manager thread, and the pool is shut down before either
  ends). SIGKILL, because a worker stuck in C code (a regex, an HTML
  parser) runs no Python signal handler.
- everywhere: a daemon thread that polls `os.getppid()` and exits when the
  parent is gone (the worker is then adopted by another process). It needs
  the GIL, so a worker stuck in C code holding it exits when the C code
  returns; on Linux the kernel has already killed it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time

__all__ = ["start_worker", "watch_parent"]

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_ORPHANED = 1  # the exit status of a worker whose parent died


def start_worker(parent: int) -> None:
    """What every pool worker does first: leave Ctrl-C to the parent, and end with it.

    `parent` is the pid of the process that made the pool (`os.getpid()`
    there); passed in, because the parent may already be gone by now.
    """
    import signal  # here: only a worker (and a build that starts workers) needs it

    # Ctrl-C reaches the whole process group; the parent stops the pool itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _killed_with_parent()
    if os.getppid() != parent:  # the parent died before we could ask the kernel
        os._exit(_ORPHANED)
    watch_parent(parent)


def watch_parent(parent: int, *, interval: float = 1.0) -> None:
    """Exit this process soon after `parent` ends (the portable way): a daemon thread."""
    threading.Thread(target=_watch, args=(parent, interval), name="newsletter-parent-watch",
                     daemon=True).start()


def _watch(parent: int, interval: float) -> None:
    while os.getppid() == parent:
        time.sleep(interval)
    # os._exit, not sys.exit: nothing of a half-done task should be flushed or joined
    os._exit(_ORPHANED)


def _killed_with_parent() -> bool:
    """Ask Linux to SIGKILL this process when its parent thread ends; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):  # no libc, or one without prctl
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0)
    return False
