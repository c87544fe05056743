"""The `newsletter` command: a few lines per command over `api`.

`_base` holds the `main` group; each module registers its commands on it
when imported: `issue` (build, check, send-test, export, preview, init),
`collect` (fetch, feeds, candidates, show, add, prune) and `draft` (new,
pick, unpick, move).
"""

from __future__ import annotations

from . import collect, draft, issue  # noqa: F401 - imported for the commands they register
from ._base import main

__all__ = ["main"]
