"""A feed's summary made into a blurb: plain text, no bare links, cut to length.

Feeds send anything as a summary: a 1,500-character abstract, the whole
first screen of an article, a bare URL. When the editor writes no `blurb:`,
the summary is used, cut to the desk's `blurb_words` at the end of a
sentence. Sentence ends come from sentencex (rules for ~300 languages), so
"Dr. Reyes" or "z.B." does not end one. Chinese and Japanese have no spaces
between words: they are counted in characters, `CHARACTERS_PER_WORD` to a
word, whatever the feed says their language is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..sanitize import html_to_plain

__all__ = ["CHARACTERS_PER_WORD", "FeedBlurb", "feed_blurb"]

#: Chinese or Japanese characters counted as one word of `blurb_words`: a
#: sentence takes about twice as many of them as English takes words.
CHARACTERS_PER_WORD = 2
# sentencex works through every sentence it is given: it is given this much
# more than the limit, which is plenty for a few whole sentences
_LOOK_AHEAD = 40

_BARE_LINK = re.compile(r"(?i)(?<![\w@])(?:https?://|www\.)\S+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")  # kana, Han
_KANA = re.compile(r"[\u3040-\u30ff]")
# what markdown would read as markup in a blurb: every one of them is shown as typed
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&])")
# a list item or a heading at the start of the text ("1. ", "2) ", "- ", "+ ")
_BLOCK_START = re.compile(r"^(\d{1,9})([.)])(?=\s|$)|^([-+])(?=\s|$)")


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedBlurb:
    """A blurb made from a feed's summary: markdown that shows as plain text."""

    markdown: str
    trimmed: bool  # cut to length, or bare links dropped: the editor should write one


def feed_blurb(summary: str, *, words: int, language: str | None) -> FeedBlurb:
    """`summary` (sanitized HTML) as a blurb of at most `words` words."""
    plain = html_to_plain(summary)
    text = " ".join(_BARE_LINK.sub(" ", plain).split())
    cut = _cut(text, words, language)
    return FeedBlurb(markdown=_markdown_safe(cut), trimmed=cut != plain)


def _cut(text: str, words: int, language: str | None) -> str:
    """Whole sentences from the start that fit the limit; failing one, whole words.

    `text` is stripped, its spaces single (so counting them is cheap)."""
    cjk = _is_cjk(text[: words * _LOOK_AHEAD])
    budget = words * CHARACTERS_PER_WORD if cjk else words
    size = _characters if cjk else _words
    if size(text) <= budget:
        return text
    taken = ""
    for sentence in _sentences(text[: budget * _LOOK_AHEAD], language, cjk):
        if size(taken + sentence) > budget:
            break
        taken += sentence
    return taken.strip() or _first_words(text, budget, cjk) + "…"


def _sentences(text: str, language: str | None, cjk: bool) -> list[str]:
    # imported when a blurb is cut: most issues cut none; the package has no type hints
    import sentencex  # type: ignore[import-untyped]

    code = (language or "").split("-")[0].lower()
    if cjk and code not in ("zh", "ja"):  # the feed's language is wrong, or missing
        code = "ja" if _KANA.search(text) else "zh"
    return list(sentencex.segment(code or "en", text))


def _is_cjk(text: str) -> bool:
    """Mostly Chinese or Japanese: more than a quarter of its characters."""
    return len(_CJK.findall(text)) * 4 > _characters(text)


def _words(text: str) -> int:
    return len(text.split())


def _characters(text: str) -> int:
    return len(text) - text.count(" ")


def _first_words(text: str, budget: int, cjk: bool) -> str:
    if not cjk:
        return " ".join(text.split()[:budget])
    kept, count = [], 0
    for char in text:
        count += char != " "
        if count > budget:
            break
        kept.append(char)
    return "".join(kept).rstrip()


def _markdown_safe(text: str) -> str:
    """Markdown that renders as `text`, and nothing more: no emphasis, links,
    entities, headings or lists out of a feed's punctuation."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return _BLOCK_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", escaped)
