"""Replace a built folder in one step, and never one the tool did not build.

The new folder is assembled beside the old one, then swapped in with two
renames; a failure on the way puts the old folder back. Every folder the
tool writes carries a marker file, so a misconfigured output path can
never replace an editor's own folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..errors import NewsletterError

__all__ = ["MARKER", "replace_folder"]

MARKER = ".newsletter-build"
_MARKER_TEXT = b"Built by newsletter; the whole folder is replaced on the next build.\n"


def replace_folder(target: Path, outputs: dict[str, bytes | Path]) -> tuple[Path, ...]:
    """Make `target` hold exactly `outputs` (relative name -> bytes), atomically."""
    if target.exists() and not _built_by_us(target):
        raise NewsletterError(
            f"{target} exists and was not made by newsletter; refusing to replace it",
            hint="move that folder away, or set paths.output in newsletter.yaml to a "
                 "folder of its own")
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new.", dir=target.parent))
    try:
        marked: dict[str, bytes | Path] = {**outputs, MARKER: _MARKER_TEXT}
        for name, data in marked.items():
            _write(staging / name, data)
        _swap(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when the swap succeeded
    return tuple(target / name for name in outputs)


def _built_by_us(folder: Path) -> bool:
    # builds from before the marker existed hold only these names
    return (folder / MARKER).is_file() or {p.name for p in folder.iterdir()} <= {
        "index.html", "email.html", "email.txt", "images"}


def _remove_leftovers(target: Path) -> None:
    """Staging folders of a build that was killed before it could clean up."""
    for pattern in (f".{target.name}.new.*", f".{target.name}.old.*"):
        for leftover in target.parent.glob(pattern):
            shutil.rmtree(leftover, ignore_errors=True)


def _write(path: Path, data: bytes | Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o755)  # mkdtemp makes folders private; a web server must read them
    if isinstance(data, Path):
        shutil.copyfile(data, path)
    else:
        path.write_bytes(data)
    path.chmod(0o644)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        os.utime(path, (int(epoch), int(epoch)))


def _swap(staging: Path, target: Path) -> None:
    if not target.exists():
        staging.replace(target)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
    target.replace(retired / "previous")
    try:
        staging.replace(target)
    except BaseException:
        (retired / "previous").replace(target)  # put the last good build back
        raise
    finally:
        shutil.rmtree(retired, ignore_errors=True)
