"""Frozen values that flow between the pipeline stages.

Nothing here does I/O or imports another module of ours: every stage can
depend on this one without dragging the others along. Import every name from
here (`from newsletter.model import Issue`).

The values live in three modules. `common` (settings, feeds, stories,
pictures, archive entries) loads with this package; `collect` (what a feed's
parse gives and a fetch reports, the browser desk's candidate pages) and
`issue` (an issue and its parts, rendered outputs, check findings) load on the
first use of one of their names (PEP 562 `__getattr__`). Creating a frozen
dataclass costs about half a millisecond on Python 3.11, and `newsletter
candidates` or a build with nothing to do meets neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .common import (
    GMAIL_CLIP_BYTES,
    MAX_PAGE,
    MIN_ID_PREFIX,
    Asset,
    CheckSettings,
    Colors,
    FeedSpec,
    Image,
    Logo,
    Marks,
    Paths,
    Sender,
    Settings,
    SiteEntry,
    Smtp,
    SourceLocation,
    Status,
    Story,
    Use,
    Utm,
)

if TYPE_CHECKING:
    from .collect import (
        CandidatePage,
        CandidateQuery,
        CandidateRow,
        FeedState,
        FetchOutcome,
        FetchResult,
        ParsedFeed,
    )
    from .issue import (
        Acceptance,
        CallToAction,
        CatchUp,
        CatchUpItem,
        Correction,
        DeepDive,
        DeepDives,
        Finding,
        Issue,
        IssueAssets,
        IssuePanel,
        Item,
        Lead,
        LeadBlock,
        PanelItem,
        Paragraphs,
        Related,
        RenderedIssue,
        Severity,
        Sponsor,
        SponsorSlot,
        TextBlock,
        Video,
    )

__all__ = [
    "GMAIL_CLIP_BYTES",
    "MAX_PAGE",
    "MIN_ID_PREFIX",
    "Acceptance",
    "Asset",
    "CallToAction",
    "CandidatePage",
    "CandidateQuery",
    "CandidateRow",
    "CatchUp",
    "CatchUpItem",
    "CheckSettings",
    "Colors",
    "Correction",
    "DeepDive",
    "DeepDives",
    "FeedSpec",
    "FeedState",
    "FetchOutcome",
    "FetchResult",
    "Finding",
    "Image",
    "Issue",
    "IssueAssets",
    "IssuePanel",
    "Item",
    "Lead",
    "LeadBlock",
    "Logo",
    "Marks",
    "PanelItem",
    "Paragraphs",
    "ParsedFeed",
    "Paths",
    "Related",
    "RenderedIssue",
    "Sender",
    "Settings",
    "Severity",
    "SiteEntry",
    "Smtp",
    "SourceLocation",
    "Sponsor",
    "SponsorSlot",
    "Status",
    "Story",
    "TextBlock",
    "Use",
    "Utm",
    "Video",
]

_IN_COLLECT = frozenset({
    "CandidatePage",
    "CandidateQuery",
    "CandidateRow",
    "FeedState",
    "FetchOutcome",
    "FetchResult",
    "ParsedFeed",
})
_IN_ISSUE = frozenset({
    "Acceptance",
    "CallToAction",
    "CatchUp",
    "CatchUpItem",
    "Correction",
    "DeepDive",
    "DeepDives",
    "Finding",
    "Issue",
    "IssueAssets",
    "IssuePanel",
    "Item",
    "Lead",
    "LeadBlock",
    "PanelItem",
    "Paragraphs",
    "Related",
    "RenderedIssue",
    "Severity",
    "Sponsor",
    "SponsorSlot",
    "TextBlock",
    "Video",
})


def __getattr__(name: str) -> object:
    """A name of `model.collect` or `model.issue`, loading that module on first use
    (PEP 562)."""
    if name in _IN_COLLECT:
        from . import collect as module
    elif name in _IN_ISSUE:
        from . import issue as module  # type: ignore[no-redef]  # one of two modules
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value  # found directly from now on
    return value
