"""Issue -> email HTML (Jinja -> MJML -> HTML), plain text and web page.

One `Renderer` per desk holds the Jinja environment; each output gets its
own link policy (absolute everywhere, campaign tags in the email and text)
and the helpers its templates call.
"""

from __future__ import annotations

import contextlib
import re
import traceback
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from jinja2 import Environment, TemplateError, TemplateNotFound, TemplateSyntaxError
from markupsafe import Markup, escape

from ..errors import Problem, RenderError
from ..model import (
    Asset,
    Image,
    Issue,
    IssueAssets,
    Logo,
    RenderedIssue,
    Settings,
    SourceLocation,
    Video,
)
from .assets import RetinaCopies, video_key
from .email import compile_mjml, unitless_shorthands
from .env import DEFAULT_THEME, context_lang, make_environment, referenced_templates
from .links import LinkPolicy, embed_url
from .locale import dateline, dir_of, direction_of, item_fonts, label, locale_for, own_fonts
from .markdown import markdown_to_html
from .text import References, html_to_text, wrap_text

__all__ = ["COLUMN_WIDTH", "DEFAULT_THEME", "EMAIL_WIDTH", "NAV_MARKER", "OUTPUTS", "Renderer",
           "issue_url"]

EMAIL_WIDTH = 600
#: The email's column inside its 24 px side paddings: the widest a picture is shown.
COLUMN_WIDTH = 552
#: Where an issue's web page gets its previous/next links: they depend on the
#: other issues, so the site fills them in after every issue is rendered.
NAV_MARKER = "<!-- newsletter:issue-nav -->"
#: From an issue page (issues/<slug>/index.html) back to the site's root.
SITE_ROOT = "../../"
#: The parts of an issue `Renderer.render` makes, each from its own templates folder.
OUTPUTS = ("email", "text", "web")
_TEMPLATE_SUFFIXES = (".mjml", ".html", ".txt", ".xml")
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)


def issue_url(settings: Settings, issue: Issue) -> str:
    """The web page of an issue: where "view in browser" and share links point."""
    return f"{settings.base_url}issues/{issue.slug}/"


class Renderer:
    """Renders issues of one desk; cheap to reuse across many issues."""

    def __init__(self, settings: Settings, env: Environment | None = None) -> None:
        self.settings = settings
        self.env = env or make_environment(settings.templates_dir)
        # per template name (templates are not reloaded while a Renderer lives)
        self._sources: dict[str, tuple[str, Path] | None] = {}
        self._references: dict[str, list[str]] = {}
        self._unitless: dict[str, list[tuple[Path, int | None, str, str]]] = {}

    def render(self, issue: Issue, assets: IssueAssets, *,
               outputs: Collection[str] = OUTPUTS) -> RenderedIssue:
        """The email, its text part and the web page of `issue`.

        `outputs` names the parts to render (of `OUTPUTS`): a build re-renders
        only those whose templates changed; the others come back "". `assets`
        holds the issue's pictures and the retina copies the rendered parts use.
        """
        unknown = set(outputs) - set(OUTPUTS)
        if unknown:
            raise ValueError(f"no such output: {', '.join(sorted(unknown))} (of {OUTPUTS})")
        page_url = issue_url(self.settings, issue)
        retina = RetinaCopies(assets.files, page_url, default_width=COLUMN_WIDTH)
        base = dict(self._context(issue, assets, page_url), picture_src=retina.src)
        email_links = LinkPolicy.for_email(page_url, self.settings.utm, issue)
        email = text = web = ""
        if "email" in outputs:
            mjml_source, template = self._email_mjml(issue, base, email_links)
            email = compile_mjml(mjml_source, template=f"{template} ({issue.source.name})")
        if "text" in outputs:
            text = wrap_text(self._render("text", "txt", issue, base, email_links,
                                          refs=References())[0])
        if "web" in outputs:
            web_base = dict(base, asset_of=_asset_lookup(assets.images, relative_to=page_url),
                            video_asset_of=_video_lookup(assets.video_thumbnails,
                                                         relative_to=page_url))
            web = self._render("web", "html", issue, web_base, LinkPolicy(page_url))[0]
        return RenderedIssue(email_html=email, text=text, web_html=web,
                             assets=(*assets.files, *retina.files()))

    def _context(self, issue: Issue, assets: IssueAssets, page_url: str) -> dict[str, Any]:
        settings = self.settings
        return {
            "issue": issue,
            "settings": settings,
            "colors": settings.colors,
            "locale": locale_for(issue.lang),
            "dateline": dateline(issue.number, issue.date, issue.lang),
            "direction": direction_of(issue.lang),
            "dir_of": dir_of(issue.lang),
            "label": _label_in(issue.lang),
            "page_url": page_url,
            "unsubscribe_url": settings.unsubscribe,
            "asset_of": _asset_lookup(assets.images),
            "video_asset_of": _video_lookup(assets.video_thumbnails),
            "own_fonts": lambda lang: own_fonts(lang, issue.lang),
            "item_fonts": item_fonts(issue),
            "fit": _fit,
            # the feed entry uses the pictures as they are; `render` gives retina copies
            "picture_src": lambda asset, width=None: asset.url,
            "embed_url": embed_url,
            "email_width": EMAIL_WIDTH,
            "absolute": lambda url: LinkPolicy(page_url).absolute(url) or "",
            "issue_nav": Markup(NAV_MARKER),
            "site_root": SITE_ROOT,
        }

    def email_mjml(self, issue: Issue, assets: IssueAssets) -> str:
        """The MJML the email is compiled from (to compare compilers, or debug a theme)."""
        page_url = issue_url(self.settings, issue)
        retina = RetinaCopies(assets.files, page_url, default_width=COLUMN_WIDTH)
        base = dict(self._context(issue, assets, page_url), picture_src=retina.src)
        links = LinkPolicy.for_email(page_url, self.settings.utm, issue)
        return self._email_mjml(issue, base, links)[0]

    def _email_mjml(self, issue: Issue, base: dict[str, Any], links: LinkPolicy
                    ) -> tuple[str, str]:
        mjml_source, template = self._render("email", "mjml", issue, base, links)
        self._refuse_unitless_shorthands(template, mjml_source)
        return mjml_source, template

    def _refuse_unitless_shorthands(self, template: str, mjml_source: str) -> None:
        """A padding shorthand with a unitless zero, at its template's line (or, when a
        template builds the value, at the line of the generated MJML)."""
        for name in self._templates_of(template):
            found = self._unitless_in(name)
            if found:
                raise _unitless_error(*found[0], more=len(found) - 1)
        generated = unitless_shorthands(mjml_source)
        if generated:
            line, attribute, value = generated[0]
            path = Path(self.env.get_template(template).filename or template)
            raise _unitless_error(path, None, attribute, value, more=len(generated) - 1,
                                  where=f" (line {line} of the MJML it generates)")

    def _templates_of(self, name: str) -> list[str]:
        """`name` and every template it extends, includes or imports, by name."""
        seen: list[str] = []
        waiting = [name]
        while waiting and len(seen) < 100:  # a desk's templates import a handful
            current = waiting.pop()
            if current not in seen:
                seen.append(current)
                waiting += self._references_of(current)
        return seen

    def _template_source(self, name: str) -> tuple[str, Path] | None:
        """A template's text and file, read once; None for a name no loader has (one
        in a branch not taken: Jinja reports it where it is used)."""
        if name not in self._sources:
            assert self.env.loader is not None
            try:
                text, filename, _ = self.env.loader.get_source(self.env, name)
            except TemplateNotFound:
                self._sources[name] = None
            else:
                self._sources[name] = (text, Path(filename or name))
        return self._sources[name]

    def _references_of(self, name: str) -> list[str]:
        if name not in self._references:
            source = self._template_source(name)
            self._references[name] = referenced_templates(self.env, source[0]) if source else []
        return self._references[name]

    def _unitless_in(self, name: str) -> list[tuple[Path, int | None, str, str]]:
        if name not in self._unitless:
            source = self._template_source(name)
            found: list[tuple[Path, int | None, str, str]] = []
            if source is not None:
                text, path = source
                # a comment's example is not markup (its newlines stay, for the lines)
                text = _JINJA_COMMENT.sub(lambda c: "\n" * c.group().count("\n"), text)
                found = [(path, line, attribute, value)
                         for line, attribute, value in unitless_shorthands(text)]
            self._unitless[name] = found
        return self._unitless[name]

    def unsubscribe_problems(self, issue: Issue, rendered: RenderedIssue) -> tuple[Problem, ...]:
        """Where the email or its text part lost the unsubscribe link (a desk template
        that overrides the footer without `unsubscribe_url`): one problem per part, at
        the template that made it. Sending without one breaks the law in most places,
        and email services refuse to."""
        link = self.settings.unsubscribe
        parts = (("email", "mjml", "the email", rendered.email_html, (link, str(escape(link))),
                  '<a href="{{ unsubscribe_url }}">{{ locale.unsubscribe }}</a>'),
                 ("text", "txt", "the plain-text part", rendered.text, (link,),
                  "{{ locale.unsubscribe }}: {{ unsubscribe_url }}"))
        problems = []
        for kind, suffix, what, output, spellings, snippet in parts:
            if any(spelling in output for spelling in spellings):
                continue
            names = [f"{kind}/{issue.slug}.{suffix}", f"{kind}/issue.{suffix}"]
            template = self.env.select_template(names)
            problems.append(Problem(
                location=SourceLocation(path=Path(template.filename or names[-1])), field="",
                message=f"{what} has no unsubscribe link ({link})",
                hint=f"put the unsubscribe link back in the template's footer: {snippet}"))
        return tuple(problems)

    def render_feed_entry(self, issue: Issue, assets: IssueAssets) -> str:
        """The issue as an HTML fragment for a feed reader: absolute links, no scripts."""
        page_url = issue_url(self.settings, issue)
        html, _ = self._render("feed", "html", issue, self._context(issue, assets, page_url),
                               LinkPolicy(page_url), names=["feed/entry.html"])
        return html

    def warm_up(self) -> None:
        """Compile the issue templates now (before worker processes fork from this one)."""
        for name in ("email/issue.mjml", "text/issue.txt", "web/issue.html", "feed/entry.html"):
            with contextlib.suppress(TemplateError):  # reported where an issue uses it
                self.env.get_template(name)
        for name in self._templates_of("email/issue.mjml"):  # read for the padding check
            self._unitless_in(name)

    def theme_file(self, name: str) -> bytes:
        """A file of the theme used as it is (a script), the desk's copy first."""
        assert self.env.loader is not None
        return self.env.loader.get_source(self.env, name)[0].encode()

    def render_page(self, name: str, context: Mapping[str, Any], page_url: str) -> str:
        """A page of the site around the issues (the archive, the 404 page)."""
        links = LinkPolicy(page_url)
        lang = self.settings.language
        full = {"settings": self.settings, "colors": self.settings.colors,
                "locale": locale_for(lang), "page_url": page_url,
                "direction": direction_of(lang), "dir_of": dir_of(lang), "label": _label_in(lang),
                "dateline_of": lambda issue: dateline(issue.number, issue.date, issue.lang),
                "link": _link_or_empty(links), "absolute": lambda url: links.absolute(url) or "",
                "md": _md(links, lang), "picture_src": lambda asset, width=None: asset.url,
                **context}
        try:
            return self.env.get_template(name).render(full)
        except (TemplateError, TypeError, KeyError, AttributeError, ValueError) as exc:
            raise _template_error(exc) from exc

    def _render(self, kind: str, suffix: str, issue: Issue, base: dict[str, Any],
                links: LinkPolicy, refs: References | None = None,
                names: list[str] | None = None) -> tuple[str, str]:
        """The output of the first template found for `kind`, and that template's name."""
        lang = context_lang(base)
        md = _md(links, lang)
        context = dict(base, link=_link_or_empty(links), md=md)
        if refs is not None:
            context.update(
                refs=refs,
                prose=lambda source, lang=None: html_to_text(md(source, lang), refs),
                cite=lambda url: refs.cite(links(url)) if url else "",
            )
        names = names or [f"{kind}/{issue.slug}.{suffix}", f"{kind}/issue.{suffix}"]
        try:
            template = self.env.select_template(names)
            return template.render(context), template.name or names[-1]
        except (TemplateError, TypeError, KeyError, AttributeError, ValueError) as exc:
            # a desk's template calling a helper wrongly fails with one of the latter
            raise _template_error(exc) from exc


def _md(links: LinkPolicy, default_lang: str) -> Callable[..., Markup]:
    """`md(source)`, or `md(source, item.lang)`: quotes and emphasis follow the prose's
    own language, the issue's when it has none."""
    def md(source: str | None, lang: str | None = None) -> Markup:
        return markdown_to_html(source or "", links, lang or default_lang)
    return md


def _label_in(default_lang: str) -> Callable[..., str]:
    """`label(locale.watch, title, note=duration)`: a label and its value joined with
    the punctuation of the label's language (the issue's, unless `lang` says)."""
    def bound(name: str, value: str = "", note: str = "", lang: str | None = None) -> str:
        return label(name, value, note=note, lang=lang or default_lang)
    return bound


def _link_or_empty(links: LinkPolicy) -> Callable[[str], str]:
    return lambda url: links(url) or ""


def _asset_lookup(found: Mapping[str, Asset], relative_to: str = ""
                  ) -> Callable[[Image | Logo], Asset]:
    """Pictures by the src the editor wrote. On the web page, the issue's own
    copies are linked relatively, so the site also works opened from disk."""
    if not relative_to:
        return lambda image: found[image.src]
    local = {src: replace(asset, url=asset.url.removeprefix(relative_to))
             for src, asset in found.items()}
    return lambda image: local[image.src]


def _video_lookup(found: Mapping[str, Asset], relative_to: str = ""
                  ) -> Callable[[Video | Image], Asset]:
    """A video's badged thumbnail (by `assets.video_key`: thumbnail and duration). A
    desk template written before videos were told apart passes the thumbnail: it
    gets the first video's."""
    lookup = _asset_lookup(found, relative_to)

    def video_asset(video: Video | Image) -> Asset:
        if isinstance(video, Video):
            return lookup(Image(src=video_key(video), alt=""))
        first = next(key for key in found if key.partition("\0")[0] == video.src)
        return lookup(Image(src=first, alt=""))

    return video_asset


def _fit(asset: Asset, width: int) -> dict[str, int]:
    """Display size for at most `width` pixels wide, keeping the aspect ratio."""
    shown = min(width, asset.width)
    return {"width": shown, "height": round(asset.height * shown / asset.width)}


def _unitless_error(path: Path, line: int | None, attribute: str, value: str, *, more: int,
                    where: str = "") -> RenderError:
    others = f" (and {more} more)" if more else ""
    fixed = " ".join("0px" if part.strip("+-0.") == "" else part for part in value.split())
    return RenderError(
        f'{attribute}="{value}" has a length without its unit{where}{others}: the MJML '
        "compiler ignores the whole value, and Outlook for Windows draws the block as if "
        "it had no padding",
        location=SourceLocation(path=path, line=line),
        hint=f'write every length with its unit: {attribute}="{fixed}"')


def _template_error(exc: Exception) -> RenderError:
    if isinstance(exc, TemplateSyntaxError):
        at = SourceLocation(path=Path(exc.filename or exc.name or "?"), line=exc.lineno)
        return RenderError(f"template syntax error: {exc.message}", location=at,
                           hint="fix the template; the line is where Jinja noticed the problem")
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename.endswith(_TEMPLATE_SUFFIXES)]
    where: SourceLocation | None = None
    if frames:
        where = SourceLocation(path=Path(frames[-1].filename), line=frames[-1].lineno)
    if not frames and not isinstance(exc, TemplateError):
        raise exc  # not raised from a template: a bug of ours, keep the traceback
    return RenderError(f"template error: {exc}", location=where,
                       hint="a template uses a name the issue does not provide; check spelling")
