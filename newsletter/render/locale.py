"""Words the templates print, fonts they use, and the typography of each language.

The issue's locale sets the words and the font stack of the whole email and
page. Any element in another language gets the stack of its own script: a
Chinese story in an English issue, set in the English stack, falls back to
whatever CJK face the reader's system picks (Japanese glyphs for Chinese
text, or Outlook's SimSun), and English inside a Chinese issue, set in the
Chinese stack, gets the CJK face's Latin letters (a wide gap in "You're").
`own_fonts` says when an element needs its own stack, and `item_fonts` lists
those an issue needs, so the templates can give Outlook a class rule for each.

What CLDR knows comes from it through Babel: long dates, the writing
direction and the likely script of a language. Quotation marks are CLDR's
too (Babel does not ship them, so `_QUOTES` copies CLDR's delimiters for
the languages we know; anything else gets English marks). The words are ours.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING

from markupsafe import Markup

from ..model import CatchUpItem, Issue, Related

if TYPE_CHECKING:  # Babel is imported when a language is first looked up
    from babel import Locale as CldrLocale

__all__ = [
    "ItemFonts",
    "Locale",
    "Quoter",
    "dateline",
    "dir_of",
    "direction_of",
    "is_cjk",
    "item_fonts",
    "label",
    "locale_for",
    "long_date",
    "own_fonts",
    "quote_marks",
    "quotes",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Locale:
    """Labels in the issue's language, a font stack that covers its script, and the
    punctuation its labels are joined with.

    `mso_font` is the one face Outlook for Windows gets: it ignores the rest
    of a stack and falls back to Times New Roman without it.
    """

    fonts: str
    mso_font: str
    script: str = "latin"  # names the stack, e.g. in the class `nl-font-zh-hans`
    direction: str = "ltr"
    colon: str = ": "  # after a label: "Links: " but "链接："
    brackets: tuple[str, str] = (" (", ")")  # around a note: " (02:47)" but "（02:47）"
    separator: str = " · "  # between the issue number and the date
    view_in_browser: str = "View in browser"
    unsubscribe: str = "Unsubscribe"
    sign_up: str = "Sign up"
    catch_up: str = "60-Second Catch-up"
    deep_dives: str = "Deep dives"
    related: str = "Related"
    watch: str = "Watch"
    video: str = "Video"
    references: str = "Links"
    read_online: str = "Read this issue online"
    read_full_story: str = "Read the full story"
    sponsored: str = "Sponsored"
    issue_number: str = "Issue {number}"
    sign_up_for: str = "Sign up for {name}"
    previous_issue: str = "Previous issue"
    next_issue: str = "Next issue"
    corrections: str = "Corrections"
    corrected_on: str = "Corrected {date}:"
    draft: str = "Draft: not published yet"
    archive: str = "Archive"
    latest_issue: str = "Latest issue"
    all_issues: str = "All issues"
    search: str = "Search the archive"
    no_results: str = "No issue matches."
    results: str = "Matching issues: {count}"
    skip_to_content: str = "Skip to content"
    email_address: str = "Email address"
    not_found: str = "Page not found"
    not_found_text: str = "There is no page at this address. The archive lists every issue."


# Unquoted names keep the stack short: it is inlined on every block of the email.
_LATIN = "-apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif"
_ARABIC = "-apple-system, Segoe UI, Tahoma, Geeza Pro, Noto Sans Arabic, Arial, sans-serif"
_HEBREW = "-apple-system, Segoe UI, Arial Hebrew, Noto Sans Hebrew, Arial, sans-serif"
_LABELLED = {
    "zh-hans": Locale(
        fonts="PingFang SC, Hiragino Sans GB, Microsoft YaHei, Noto Sans CJK SC, "
              "Noto Sans SC, " + _LATIN,
        mso_font="Microsoft YaHei", script="zh-hans", colon="：", brackets=("（", "）"),
        read_full_story="阅读全文",
        view_in_browser="在浏览器中查看", unsubscribe="退订", sign_up="订阅",
        catch_up="60秒速览", deep_dives="深度阅读", related="相关报道", watch="观看",
        video="视频", references="链接", read_online="在线阅读本期",
        issue_number="第{number}期", sign_up_for="订阅{name}", sponsored="赞助内容",
        previous_issue="上一期", next_issue="下一期", corrections="更正",
        corrected_on="{date}更正：", draft="草稿：尚未发布", archive="往期",
        latest_issue="最新一期", all_issues="全部期数", search="搜索往期",
        no_results="没有匹配的期数。",
        results="匹配的期数：{count}", skip_to_content="跳到正文",
        email_address="电子邮箱", not_found="找不到页面",
        not_found_text="此地址没有页面。往期列表中有全部期数。",
    ),
    "zh-hant": Locale(
        fonts="PingFang TC, Hiragino Sans CNS, Microsoft JhengHei, Noto Sans CJK TC, "
              "Noto Sans TC, " + _LATIN,
        mso_font="Microsoft JhengHei", script="zh-hant", colon="：", brackets=("（", "）"),
        read_full_story="閱讀全文",
        view_in_browser="在瀏覽器中查看", unsubscribe="取消訂閱", sign_up="訂閱",
        catch_up="60秒速覽", deep_dives="深度閱讀", related="相關報道", watch="觀看",
        video="影片", references="連結", read_online="線上閱讀本期",
        issue_number="第{number}期", sign_up_for="訂閱{name}", sponsored="贊助內容",
        previous_issue="上一期", next_issue="下一期", corrections="更正",
        corrected_on="{date}更正：", draft="草稿：尚未發布", archive="往期",
        latest_issue="最新一期", all_issues="全部期數", search="搜尋往期",
        no_results="沒有符合的期數。",
        results="符合的期數：{count}", skip_to_content="跳到正文",
        email_address="電子郵件", not_found="找不到頁面",
        not_found_text="此網址沒有頁面。往期列表中有全部期數。",
    ),
    "ja": Locale(
        fonts="Hiragino Kaku Gothic ProN, Hiragino Sans, Yu Gothic, Meiryo, "
              "Noto Sans CJK JP, Noto Sans JP, " + _LATIN,
        mso_font="Meiryo", script="ja", colon="：", brackets=("（", "）"),
        read_full_story="続きを読む",
        view_in_browser="ブラウザで表示", unsubscribe="配信停止", sign_up="登録",
        catch_up="60秒でわかる", deep_dives="深掘り", related="関連記事", watch="再生",
        video="動画", references="リンク",
        read_online="この号をウェブで読む", issue_number="第{number}号",
        sign_up_for="{name}に登録", sponsored="スポンサー",
        previous_issue="前の号", next_issue="次の号", corrections="訂正",
        corrected_on="{date}訂正：", draft="下書き：未公開", archive="バックナンバー",
        latest_issue="最新号", all_issues="すべての号", search="バックナンバーを検索",
        no_results="該当する号はありません。", results="該当する号：{count}",
        skip_to_content="本文へ移動", email_address="メールアドレス",
        not_found="ページが見つかりません",
        not_found_text="このアドレスにはページがありません。バックナンバーから探せます。",
    ),
    "ar": Locale(
        fonts=_ARABIC, mso_font="Segoe UI", script="arab", direction="rtl",
        view_in_browser="عرض في المتصفح", unsubscribe="إلغاء الاشتراك", sign_up="اشترك",
        catch_up="ملخص في 60 ثانية", deep_dives="قراءات معمّقة", related="ذو صلة",
        watch="شاهد", video="فيديو", references="الروابط",
        read_online="اقرأ هذا العدد على الموقع", sponsored="محتوى مموّل",
        issue_number="العدد {number}", sign_up_for="اشترك في {name}",
        read_full_story="اقرأ القصة كاملة", previous_issue="العدد السابق",
        next_issue="العدد التالي", corrections="تصويبات", corrected_on="صُحّح في {date}:",
        draft="مسودة: لم يُنشر بعد", archive="الأرشيف", latest_issue="أحدث عدد",
        all_issues="كل الأعداد", search="ابحث في الأرشيف", no_results="لا يوجد عدد مطابق.",
        results="الأعداد المطابقة: {count}", skip_to_content="انتقل إلى المحتوى",
        email_address="البريد الإلكتروني", not_found="الصفحة غير موجودة",
        not_found_text="لا توجد صفحة بهذا العنوان. في الأرشيف كل الأعداد.",
    ),
}
_ENGLISH = Locale(fonts=_LATIN, mso_font="Arial")
# Languages whose words we do not have keep the English labels, but their dateline
# and issue number read in their own language, and their script gets its fonts.
_ISSUE_NUMBER = {"fr": "Numéro {number}", "de": "Ausgabe {number}", "es": "Número {number}",
                 "it": "Numero {number}", "pt": "Edição {number}", "nl": "Editie {number}",
                 "he": "גיליון {number}", "fa": "شماره {number}", "ur": "شمارہ {number}"}
# French sets a narrow no-break space before a colon
_COLON = {"fr": "\u202f: "}
_SCRIPT_LOCALES = {
    "arab": replace(_ENGLISH, fonts=_ARABIC, mso_font="Segoe UI", script="arab"),
    "hebr": replace(_ENGLISH, fonts=_HEBREW, mso_font="Segoe UI", script="hebr"),
}
# ISO 15924 script (CLDR's likely subtags name it) -> the stack that covers it
_STACKS = {"Hans": "zh-hans", "Hant": "zh-hant", "Jpan": "ja", "Arab": "arab", "Hebr": "hebr"}
_RTL_SCRIPTS = frozenset({"Arab", "Hebr", "Thaa", "Syrc", "Nkoo", "Adlm", "Rohg", "Mand", "Samr"})
# CLDR's delimiters (quotationStart/End, alternateQuotationStart/End), by language;
# French gets the narrow no-break spaces its typography puts inside guillemets.
_QUOTES: dict[str, tuple[str, str, str, str]] = {
    "en": ("“", "”", "‘", "’"),
    "zh-hans": ("“", "”", "‘", "’"),
    "zh-hant": ("「", "」", "『", "』"),
    "ja": ("「", "」", "『", "』"),
    "ko": ("“", "”", "‘", "’"),
    "ar": ("”", "“", "’", "‘"),
    "he": ("”", "”", "’", "’"),
    "fa": ("«", "»", "‹", "›"),
    "ur": ("”", "“", "’", "‘"),
    "fr": ("«\u202f", "\u202f»", "«\u202f", "\u202f»"),
    "de": ("„", "“", "‚", "‘"),
    "es": ("«", "»", "“", "”"),
    "it": ("«", "»", "“", "”"),
    "pt": ("“", "”", "‘", "’"),
    "nl": ("‘", "’", "“", "”"),
    "ru": ("«", "»", "„", "“"),
    "pl": ("„", "”", "«", "»"),
    "cs": ("„", "“", "‚", "‘"),
    "uk": ("«", "»", "„", "“"),
    "el": ("«", "»", "“", "”"),
    "sv": ("”", "”", "’", "’"),
    "fi": ("”", "”", "’", "’"),
    "nb": ("«", "»", "‘", "’"),
    "da": ("“", "”", "‘", "’"),
    "tr": ("“", "”", "‘", "’"),
}


@dataclass(frozen=True, slots=True)
class _Tag:
    """What a BCP 47 tag says, completed by CLDR: language, script, Babel's locale."""

    language: str
    script: str
    cldr: CldrLocale | None


@lru_cache(maxsize=256)
def _parse(lang: str) -> _Tag:
    from babel import Locale as CldrLocale
    from babel import UnknownLocaleError
    from babel.core import get_global

    subtags = lang.replace("_", "-").split("-")
    language = subtags[0].lower()
    script = next((s.title() for s in subtags[1:] if len(s) == 4 and s.isalpha()), "")
    region = next((s.upper() for s in subtags[1:] if len(s) == 2 or s.isdigit()), "")
    likely: Mapping[str, str] = get_global("likely_subtags")
    if not script:
        guess = likely.get(f"{language}_{region}") or likely.get(language) or ""
        script = next((s for s in guess.split("_")[1:] if len(s) == 4), "Latn")
    try:
        cldr: CldrLocale | None = CldrLocale.parse(lang.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        try:
            cldr = CldrLocale.parse(language)
        except (UnknownLocaleError, ValueError, TypeError):
            cldr = None  # a private or unknown tag: English words, its script's fonts
    return _Tag(language=language, script=script, cldr=cldr)


def _key(lang: str) -> str:
    """The key of our tables for a tag: "zh-hans"/"zh-hant" for Chinese, else the language."""
    tag = _parse(lang)
    if tag.language == "zh":
        return "zh-hant" if tag.script == "Hant" else "zh-hans"
    return "he" if tag.language == "iw" else tag.language


@lru_cache(maxsize=256)
def locale_for(lang: str) -> Locale:
    """The locale for a BCP 47 tag; English labels for languages we have no words for."""
    key = _key(lang)
    if key in _LABELLED:
        return _LABELLED[key]
    tag = _parse(lang)
    base = _SCRIPT_LOCALES.get(_STACKS.get(tag.script, ""), _ENGLISH)
    return replace(base, direction=direction_of(lang),
                   issue_number=_ISSUE_NUMBER.get(key, base.issue_number),
                   colon=_COLON.get(key, base.colon))


def direction_of(lang: str) -> str:
    """"rtl" or "ltr": CLDR's character order for the language, else its script's."""
    tag = _parse(lang)
    if tag.cldr is not None:
        return "rtl" if tag.cldr.character_order == "right-to-left" else "ltr"
    return "rtl" if tag.script in _RTL_SCRIPTS else "ltr"


def dir_of(issue_lang: str) -> Callable[[str | None], str]:
    """For templates: an element's `dir`, "" when it reads the issue's way (no attribute
    needed), else "rtl" or "ltr"."""
    issue = direction_of(issue_lang)

    def element_dir(lang: str | None) -> str:
        own = direction_of(lang) if lang else issue
        return "" if own == issue else own

    return element_dir


def is_cjk(lang: str) -> bool:
    """Chinese or Japanese: no italics (there are none in these scripts), wide punctuation."""
    return _key(lang) in ("zh-hans", "zh-hant", "ja")


def long_date(date: dt.date, lang: str) -> str:
    """The date as the language writes it in full (CLDR's long format):
    "27 November 2026" (en-GB), "2026年11月27日" (zh, ja), "27. November 2026" (de)."""
    from babel.dates import format_date

    return format_date(date, "long", locale=_parse(lang).cldr or _parse("en").cldr)


def dateline(number: int, date: dt.date, lang: str) -> str:
    """The masthead's "Issue 48 · 27 November 2026" ("第48期 · 2026年11月27日")."""
    words = locale_for(lang)
    return f"{words.issue_number.format(number=number)}{words.separator}{long_date(date, lang)}"


def label(name: str, value: str = "", *, note: str = "", lang: str = "en") -> str:
    """A label joined to its value with the punctuation of the label's language:
    "Watch (02:47): Title", "观看（02:47）：标题", "Links:" / "链接：" without a value.
    Markup in gives Markup out (escaped around it); plain text stays plain, so the
    text part prints it as it is."""
    words = locale_for(lang)
    opening, closing = words.brackets
    head = f"{opening}{{}}{closing}" if note else ""
    colon = words.colon if value else words.colon.rstrip()
    if any(isinstance(part, Markup) for part in (name, value, note)):
        pattern = Markup("{}" + head + colon + "{}")
        return pattern.format(name, *([note] if note else []), value)
    return f"{name}{head.format(note) if note else ''}{colon}{value}"


def quote_marks(lang: str) -> tuple[str, str, str, str]:
    """Opening and closing quotation marks, then the inner (alternate) pair, by CLDR."""
    return _QUOTES.get(_key(lang), _QUOTES["en"])


# Spans whose quotes are not prose: URLs and `code`.
_VERBATIM = re.compile(r"https?://\S+|`[^`\n]*`")
_STRAIGHT = re.compile("[\"']")
_OPENERS = frozenset("([{<“‘«‹„‚「『—–-/")
_CLOSERS = frozenset(")]}>.,;:!?…、。，；：！？）」』")


def quotes(text: str, lang: str) -> str:
    """Straight quotes in plain text become the language's typographic quotes, and
    apostrophes become ’ (You’re); URLs and `code` keep theirs. Markup is returned as
    it is: `md()` already set its quotes, and its tags' attributes must keep theirs."""
    if isinstance(text, Markup) or not isinstance(text, str) or not re.search("[\"']", text):
        return text
    quoter = Quoter(quote_marks(lang))
    out: list[str] = []
    at = 0
    for span in _VERBATIM.finditer(text):
        out += [quoter.curl(text[at:span.start()], following=span.group()[0]),
                quoter.verbatim(span.group())]
        at = span.end()
    out.append(quoter.curl(text[at:]))
    return "".join(out)


class Quoter:
    """Curls the quotes of one piece of text, fed in runs (the markdown renderer feeds
    the text between tags and code; a quote opened in one run closes in another).

    A quote after a space or an opening mark opens; one before a space or a closing
    mark closes; one between two letters is an apostrophe between Latin letters,
    and else (Chinese and Japanese have no spaces) closes the quote that is open or
    opens one.
    """

    def __init__(self, marks: tuple[str, str, str, str]) -> None:
        self.marks = marks
        self.opened: list[str] = []  # the quotes open at this point: '"' or "'"
        self.last = " "  # the character before the next run

    def verbatim(self, text: str) -> str:
        """A run kept as it is (code, an escaped quote), still context for the next."""
        if text:
            self.last = text[-1]
        return text

    def curl(self, text: str, *, following: str = " ") -> str:
        """`text` with its quotes curled; `following` is the character after it (a
        URL or code kept as it is), which tells a quote at its very end to open."""
        if not text:
            return text
        if '"' not in text and "'" not in text:  # most runs: nothing to curl
            self.last = text[-1]
            return text
        out = []
        at = 0
        for found in _STRAIGHT.finditer(text):
            index = found.start()
            if index:  # the character before the quote is its context
                out.append(text[at:index])
                self.last = text[index - 1]
            after = text[index + 1] if index + 1 < len(text) else following
            out.append(self._mark(found.group(), after))
            self.last = found.group()
            at = index + 1
        out.append(text[at:])
        self.last = text[-1]
        return "".join(out)

    def _mark(self, char: str, after: str) -> str:
        before = self.last
        if char == "'" and _latin(before) and _latin(after):
            return "’"  # an apostrophe: You’re, l’eau
        if before.isspace() or before in _OPENERS:
            opens = not after.isspace()
        elif after.isspace() or after in _CLOSERS:
            opens = False
        else:
            opens = char not in self.opened
        if opens:
            self.opened.append(char)
            return self.marks[0] if char == '"' else self.marks[2]
        if char in self.opened:
            del self.opened[len(self.opened) - 1 - self.opened[::-1].index(char)]
        elif char == "'":
            return "’"  # closing what never opened: the students’ desk
        return self.marks[1] if char == '"' else self.marks[3]


def _latin(char: str) -> bool:
    return char.isalnum() and char < "\u0530"  # Latin, Greek, Cyrillic letters and digits


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemFonts:
    """A font stack some items of an issue need, and the language tags they carry."""

    langs: tuple[str, ...]
    locale: Locale

    @property
    def css_class(self) -> str:
        return f"nl-font-{self.locale.script}"


def own_fonts(lang: str | None, issue_lang: str) -> Locale | None:
    """The locale whose fonts an element in `lang` needs inside an issue in `issue_lang`;
    None when the issue's stack serves (the same script). Latin text in a CJK issue
    needs the Latin stack: a CJK face's Latin letters are wide and its apostrophe
    sits apart ("You ' re")."""
    if not lang:
        return None
    own = locale_for(lang)
    return None if own.script == locale_for(issue_lang).script else own


def item_fonts(issue: Issue, also: Iterable[str] = ()) -> tuple[ItemFonts, ...]:
    """Every stack that items of `issue` (and the desk's own words, in `also`'s
    languages) need besides the issue's, in a stable order."""
    needed: dict[str, list[str]] = {}
    locales: dict[str, Locale] = {}
    for lang in dict.fromkeys([*_item_langs(issue), *also]):
        own = own_fonts(lang, issue.lang)
        if own is not None:
            needed.setdefault(own.script, []).append(lang)
            locales[own.script] = own
    return tuple(ItemFonts(langs=tuple(sorted(needed[script])), locale=locales[script])
                 for script in sorted(needed))


def _item_langs(issue: Issue) -> Iterator[str]:
    lead = issue.lead
    blocks = [block.lang for block in lead.body if isinstance(block, Related)]
    items = [item.lang for item in issue.catch_up.items
             if isinstance(item, CatchUpItem)] if issue.catch_up else []
    cards = [card.lang for card in issue.deep_dives.items] if issue.deep_dives else []
    yield from (lang for lang in (lead.lang, *blocks, *items, *cards) if lang)
