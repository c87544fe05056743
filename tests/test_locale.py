# ruff: noqa: RUF001  # the curly quotes and full-width punctuation are what is tested
"""The typography of each language: datelines by CLDR, direction, quotation marks,
label punctuation, emphasis in Chinese and Japanese, and fonts by script."""

from __future__ import annotations

import datetime as dt

import pytest
from babel import Locale as CldrLocale
from babel.dates import format_date
from babel.localedata import locale_identifiers
from markupsafe import Markup

from newsletter.render.locale import (
    _LABELLED,
    dateline,
    dir_of,
    direction_of,
    label,
    locale_for,
    own_fonts,
    quotes,
)
from newsletter.render.markdown import CJK_EMPHASIS, markdown_to_html

DAY = dt.date(2026, 11, 27)


# --- the dateline -------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "expected"), [
    ("en-GB", "Issue 48 · 27 November 2026"),
    ("en", "Issue 48 · November 27, 2026"),  # CLDR's "en" is American English
    ("zh-Hans", "第48期 · 2026年11月27日"),
    ("zh-TW", "第48期 · 2026年11月27日"),
    ("ja", "第48号 · 2026年11月27日"),
    ("de", "Ausgabe 48 · 27. November 2026"),
    ("fr", "Numéro 48 · 27 novembre 2026"),
    ("ar", "العدد 48 · 27 نوفمبر 2026"),
    ("he", "גיליון 48 · 27 בנובמבר 2026"),
])
def test_the_dateline_reads_as_the_language_writes_it(lang: str, expected: str) -> None:
    assert dateline(48, DAY, lang) == expected


def _bcp47(identifier: str) -> str:
    """Babel's `zh_Hant_TW` as a desk writes it: `zh-Hant-TW`."""
    return identifier.replace("_", "-")


def test_every_language_cldr_knows_gets_its_own_long_date() -> None:
    # a tag we read wrongly would fall back to English without a word
    wrong = []
    for identifier in sorted(locale_identifiers()):
        if identifier == "root":
            continue  # CLDR's root locale is no language a desk can choose
        expected = format_date(DAY, "long", locale=CldrLocale.parse(identifier))
        if not dateline(48, DAY, _bcp47(identifier)).endswith(expected):
            wrong.append(f"{identifier}: {dateline(48, DAY, _bcp47(identifier))!r}, "
                         f"CLDR says {expected!r}")
    assert len(locale_identifiers()) > 500
    assert wrong == []


@pytest.mark.parametrize("lang", ["qaa", "zz", "en-Latn-US", "zh-Hant-HK", "sr-Cyrl-RS",
                                  "qtz", "und", "es-419"])
def test_a_tag_cldr_does_not_know_still_gets_a_dateline(lang: str) -> None:
    assert "48" in dateline(48, DAY, lang) and "2026" in dateline(48, DAY, lang)


# --- direction ------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["ar", "ar-EG", "he", "iw", "fa", "ur", "ps", "yi", "dv",
                                  "ckb", "sd"])
def test_right_to_left_languages_are_rtl(lang: str) -> None:
    assert direction_of(lang) == "rtl"
    assert locale_for(lang).direction == "rtl"


@pytest.mark.parametrize("lang", ["en", "zh-Hans", "ja", "ru", "hi", "ko", "tr"])
def test_left_to_right_languages_are_ltr(lang: str) -> None:
    assert direction_of(lang) == "ltr"


def test_dir_of_names_only_a_direction_other_than_the_issues() -> None:
    in_arabic = dir_of("ar")
    assert in_arabic("en") == "ltr"
    assert in_arabic("fa") == ""
    assert in_arabic(None) == ""
    in_english = dir_of("en-GB")
    assert in_english("he") == "rtl"
    assert in_english("zh-Hans") == ""


# --- quotation marks ------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "text", "expected"), [
    ("en", '"Kelp" isn\'t back, they say', "“Kelp” isn’t back, they say"),
    ("en", "the skippers' 'plan'", "the skippers’ ‘plan’"),
    ("en", 'He said "the \'old\' reef"', "He said “the ‘old’ reef”"),
    ("de", 'Sie sagte: "Es wächst"', "Sie sagte: „Es wächst“"),
    ("fr", 'Il a dit "non"', "Il a dit «\u202fnon\u202f»"),
    ("ja", '彼は"はい"と言った', "彼は「はい」と言った"),
    ("zh-Hant", '他說"好"。', "他說「好」。"),
    ("zh-Hans", '他说"你好"。', "他说“你好”。"),
    ("ar", 'قال "نعم"', "قال ”نعم“"),
    ("en", "no quotes at all", "no quotes at all"),
])
def test_straight_quotes_become_the_languages_own(lang: str, text: str, expected: str) -> None:
    assert quotes(text, lang) == expected


def test_urls_and_code_keep_their_straight_quotes() -> None:
    text = "see https://example.org/?q=\"a\" and `x = 'y'` for \"more\""
    assert quotes(text, "en") == (
        "see https://example.org/?q=\"a\" and `x = 'y'` for “more”")


def test_a_quote_before_a_url_or_code_opens() -> None:
    assert quotes('see "https://e.org/a now', "en") == "see “https://e.org/a now"
    assert quotes("run '`make`' first", "en").startswith("run ‘`make`")


def test_markup_is_left_as_it_is() -> None:
    html = Markup('<a href="https://example.org/" title="it\'s">"x"</a>')
    assert quotes(html, "en") is html


def test_markdown_sets_quotes_by_its_own_language_outside_code() -> None:
    assert "„Es wächst“" in markdown_to_html('Sie sagte "Es wächst"', lang="de")
    html = markdown_to_html('他说"你好"，然后 `"code"` 结束', lang="zh-Hans")
    assert "“你好”" in html and "<code>\"code\"</code>" in html.replace("&quot;", '"')
    assert "“kelp”" in markdown_to_html('the "kelp" grows', lang="en")


# --- labels and emphasis ------------------------------------------------------------


def test_labels_take_the_punctuation_of_their_language() -> None:
    assert label("Watch", "Reef", note="02:47", lang="en") == "Watch (02:47): Reef"
    assert label("观看", "珊瑚", note="02:47", lang="zh-Hans") == "观看（02:47）：珊瑚"
    assert label("链接", lang="zh-Hans") == "链接："
    assert label("Links", lang="en") == "Links:"
    assert label("Liens", "x", lang="fr") == "Liens\u202f: x"


def test_a_label_with_markup_escapes_the_plain_parts() -> None:
    joined = label(Markup("<b>Watch</b>"), "a <b> c", lang="en")
    assert isinstance(joined, Markup)
    assert joined == "<b>Watch</b>: a &lt;b&gt; c"


def test_every_labelled_language_has_its_read_the_full_story() -> None:
    english = locale_for("en").read_full_story
    assert english == "Read the full story"
    for key, words in _LABELLED.items():
        assert words.read_full_story and words.read_full_story != english, key


def test_emphasis_in_chinese_and_japanese_is_upright_bold_not_slanted() -> None:
    for lang in ("zh-Hans", "zh-Hant", "ja"):
        html = markdown_to_html("这是*重要*的", lang=lang)
        assert CJK_EMPHASIS in html and "<em>" not in html, lang
    assert "<em>kelp</em>" in markdown_to_html("the *kelp*", lang="en")


# --- fonts by script --------------------------------------------------------------------


def test_latin_text_in_a_cjk_issue_gets_the_latin_stack() -> None:
    latin = own_fonts("en", "zh-Hans")
    assert latin is not None and latin.script == "latin"
    assert latin.fonts.startswith("-apple-system")
    assert own_fonts("en", "ja") is not None


def test_an_element_in_the_issues_script_needs_no_stack_of_its_own() -> None:
    assert own_fonts("fr", "en") is None
    assert own_fonts("zh-CN", "zh-Hans") is None
    assert own_fonts(None, "zh-Hans") is None
    chinese = own_fonts("zh-Hans", "en")
    assert chinese is not None and chinese.script == "zh-hans"
    arabic = own_fonts("ar", "en")
    assert arabic is not None and arabic.direction == "rtl"


def test_curling_a_run_at_a_time_equals_curling_each_character() -> None:
    """`Quoter.curl` skips the characters that are not quotes (most runs have none):
    the same marks, and the same context for the next run, as a pass over every
    character. Seeded, bounded."""
    import random

    from newsletter.render.locale import Quoter, quote_marks

    class EveryCharacter(Quoter):
        def curl(self, text: str) -> str:
            out = []
            for index, char in enumerate(text):
                after = text[index + 1] if index + 1 < len(text) else " "
                out.append(self._mark(char, after) if char in "\"'" else char)
                self.last = char
            return "".join(out)

    alphabet = list("ab \"'.,(「你)\n-é")
    rng = random.Random(16)
    for _ in range(5000):
        marks = quote_marks(rng.choice(["en", "de", "ja", "fr"]))
        fast, plain = Quoter(marks), EveryCharacter(marks)
        for _ in range(rng.randint(1, 4)):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
            assert fast.curl(text) == plain.curl(text), text
            assert (fast.last, fast.opened) == (plain.last, plain.opened)
            if rng.random() < 0.3:
                fast.verbatim("`x`")
                plain.verbatim("`x`")


def test_importing_locale_loads_no_babel_until_a_language_is_looked_up() -> None:
    import subprocess
    import sys

    code = ("import sys; import newsletter.render.locale as l; a = 'babel' in sys.modules; "
            "l.long_date(__import__('datetime').date(2026, 11, 27), 'de'); "
            "print(a, 'babel' in sys.modules)")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, timeout=60).stdout.split()
    assert found == ["False", "True"]
