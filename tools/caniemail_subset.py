"""Make the copy of caniemail.com's support data that the tool ships.

    python tools/caniemail_subset.py SOURCE OUT

SOURCE is caniemail's full `caniemail.json` (a path, or an http(s) URL such as
https://www.caniemail.com/api/data.json); OUT is where the subset goes, normally
`newsletter/data/caniemail.json`. The subset keeps the CSS and HTML features
only, each with its slug, title, url and category, the newest version's result
for each client the check looks at (`newsletter.check.clients.TARGETS`) and the
notes those results refer to; the rest (image formats, other clients, older
versions, descriptions) is dropped. It keeps caniemail's own field names, so the
check reads the full file and the subset alike.

The output is deterministic: sorted keys, one feature per line, no spaces. The
data is MIT-licensed by caniemail.com; the header says so and credits them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from newsletter.check.clients import TARGETS

CATEGORIES = ("css", "html")
LICENCE = "MIT"
COPYRIGHT = "Copyright (c) 2019 HTeuMeuLeu"
CREDIT = "caniemail.com"
_NOTE_REF = re.compile(r"#(\w+)")


def read_source(source: str) -> Any:
    """The full caniemail data, from a file or over HTTP."""
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=60) as response:
            return json.load(response)
    return json.loads(Path(source).read_text(encoding="utf-8"))


def source_name(source: str) -> str:
    """How the header names SOURCE: a URL as it is, a file by its name only (so
    the output does not depend on where the file sits)."""
    return source if source.startswith(("http://", "https://")) else Path(source).name


def subset(full: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The shipped subset of `full` (caniemail's data), as a JSON-ready dict."""
    features = [_feature(f) for f in full["data"] if f["category"] in CATEGORIES]
    return {
        "header": {
            "title": "caniemail.com support data: CSS and HTML features, newest version per "
                     "client, for `newsletter check`",
            "source": source,
            "api_version": full.get("api_version", ""),
            "data_date": full.get("last_update_date", ""),
            "licence": LICENCE,
            "copyright": COPYRIGHT,
            "credit": CREDIT,
            "made_by": "tools/caniemail_subset.py",
            "clients": [f"{t.family}/{t.platform}" for t in TARGETS],
        },
        "data": sorted(features, key=lambda f: f["slug"]),
    }


def _feature(feature: Mapping[str, Any]) -> dict[str, Any]:
    stats: dict[str, dict[str, dict[str, str]]] = {}
    for target in TARGETS:
        versions = feature["stats"].get(target.family, {}).get(target.platform)
        if versions:  # caniemail lists versions oldest first
            version, support = list(versions.items())[-1]
            stats.setdefault(target.family, {})[target.platform] = {version: support}
    used = {ref for platforms in stats.values() for versions in platforms.values()
            for support in versions.values() for ref in _NOTE_REF.findall(support)}
    notes = feature.get("notes_by_num") or {}
    kept = {
        "slug": feature["slug"],
        "title": feature["title"],
        "url": feature["url"],
        "category": feature["category"],
        "stats": stats,
    }
    if used & notes.keys():
        kept["notes_by_num"] = {num: notes[num] for num in sorted(used & notes.keys())}
    return kept


def dumps(data: Mapping[str, Any]) -> str:
    """Compact, sorted JSON with one feature to a line, so a new release of the
    data reads as a short diff."""
    def compact(value: object) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    lines = ",\n".join(compact(feature) for feature in data["data"])
    return f'{{"data":[\n{lines}\n],"header":{compact(data["header"])}}}\n'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="caniemail.json: a path or an http(s) URL")
    parser.add_argument("out", type=Path, help="where to write the subset")
    args = parser.parse_args(argv)
    text = dumps(subset(read_source(args.source), source_name(args.source)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    sys.stderr.write(f"wrote {args.out} ({len(text.encode()):,} bytes)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
