"""Pre-flight checks of an issue before it goes out: what would embarrass
the desk (a clipped email, a dead link, a picture without alt text, CSS
that Outlook ignores, a story that already ran).

Each check module returns `Finding`s; `api.check_issue` runs them and the
CLI prints them grouped by severity.
"""

from __future__ import annotations

from ..model import Finding, Severity

__all__ = ["Finding", "Severity"]
