"""Frozen values that flow between the pipeline stages.

Nothing here does I/O or imports another module of ours: every stage can
depend on this one without dragging the others along. Import every name from
here (`from newsletter.model import Issue`).

The values live in two modules. `common` (settings, feeds, stories,
candidates, pictures, archive entries) loads with this package; `issue` (an
issue and its parts, rendered outputs, check findings) loads on the first use
of one of its names (PEP 562 `__getattr__`). Creating a frozen dataclass costs
about half a millisecond on Python 3.11, and `newsletter candidates` or a build
with nothing to do never meets an issue's parts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .common import (
    GMAIL_CLIP_BYTES,
    MAX_PAGE,
    MIN_ID_PREFIX,
    Asset,
    CandidatePage,
    CandidateQuery,
    CandidateRow,
    CheckSettings,
    Colors,
    FeedSpec,
    FeedState,
    FetchOutcome,
    FetchResult,
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
    """An issue-side name, loading `model.issue` on first use (PEP 562)."""
    if name not in _IN_ISSUE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import issue

    value = getattr(issue, name)
    globals()[name] = value  # found directly from now on
    return value
