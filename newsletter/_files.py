"""Replacing things on disk in one step.

`exchange` swaps two paths (files or folders) atomically with Linux's
`renameat2(RENAME_EXCHANGE)`: a reader sees one or the other, never neither,
and the caller can look at what it replaced before letting it go. The desk's
file edits (`desk.drafts`) and the site's swap (`publish.site`) both use it.
"""

from __future__ import annotations

import errno
import functools
import os
from pathlib import Path
from typing import Any

__all__ = ["exchange"]

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@functools.cache
def _renameat2() -> Any:
    """libc's renameat2 (the process's own C library: no search for it), or None."""
    import ctypes  # here: a build with nothing to do swaps nothing

    try:
        return ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None


def exchange(a: Path, b: Path) -> bool:
    """Swap `a` and `b` in one atomic step; False where the system or the
    filesystem cannot (the caller falls back to renames)."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    import ctypes

    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # this filesystem cannot
        return False
    raise OSError(code, os.strerror(code), str(b))
