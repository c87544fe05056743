"""Words the templates print and fonts they use, per language.

The issue's locale sets the words and the font stack of the whole email and
page. An item in another language keeps the issue's words but may need
fonts of its own: a Chinese story in an English issue, set in the English
stack, falls back to whatever CJK face the reader's system picks (Japanese
glyphs for Chinese text, or Outlook's SimSun). `own_fonts` says when an item
needs its own stack, and `item_fonts` lists those an issue needs, so the
templates can give Outlook a class rule for each.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..model import CatchUpItem, Issue, Related

__all__ = ["ItemFonts", "Locale", "item_fonts", "locale_for", "own_fonts"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Locale:
    """Labels in the issue's language and a font stack that covers its script.

    `mso_font` is the one face Outlook for Windows gets: it ignores the rest
    of a stack and falls back to Times New Roman without it.
    """

    fonts: str
    mso_font: str
    script: str = "latin"  # names the stack, e.g. in the class `nl-font-zh-hans`
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
_CJK_LABELS = {
    "zh-hans": Locale(
        fonts="PingFang SC, Hiragino Sans GB, Microsoft YaHei, Noto Sans CJK SC, "
              "Noto Sans SC, " + _LATIN,
        mso_font="Microsoft YaHei", script="zh-hans",
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
        mso_font="Microsoft JhengHei", script="zh-hant",
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
        mso_font="Meiryo", script="ja",
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
}
# the first two subtags of a Chinese tag -> which script its readers use
_ALIASES = {"zh-hans": "zh-hans", "zh-hant": "zh-hant", "zh-cn": "zh-hans", "zh-sg": "zh-hans",
            "zh-tw": "zh-hant", "zh-hk": "zh-hant", "zh-mo": "zh-hant"}


def locale_for(lang: str) -> Locale:
    """The locale for a BCP 47 tag; English labels for languages we have no words for."""
    tag = lang.lower()
    subtags = tag.split("-")
    if subtags[0] == "ja":
        return _CJK_LABELS["ja"]
    if subtags[0] == "zh":
        key = _ALIASES.get("-".join(subtags[:2]), "zh-hans")
        return _CJK_LABELS["zh-hant" if "hant" in subtags else key]
    return _ENGLISH


_ENGLISH = Locale(fonts=_LATIN, mso_font="Arial")


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemFonts:
    """A font stack some items of an issue need, and the language tags they carry."""

    langs: tuple[str, ...]
    locale: Locale

    @property
    def css_class(self) -> str:
        return f"nl-font-{self.locale.script}"


def own_fonts(lang: str | None, issue_lang: str) -> Locale | None:
    """The locale whose fonts an item in `lang` needs inside an issue in `issue_lang`;
    None when the issue's stack serves (the same script, or Latin, which every stack
    ends with)."""
    if not lang:
        return None
    own = locale_for(lang)
    return None if own.script in ("latin", locale_for(issue_lang).script) else own


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
