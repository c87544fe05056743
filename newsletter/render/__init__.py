"""Issue -> email HTML (Jinja -> MJML -> HTML), plain text and web page.

One `Renderer` per desk holds the Jinja environment; each output gets its
own link policy (absolute everywhere, campaign tags in the email and text)
and the helpers its templates call.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from jinja2 import Environment, TemplateError, TemplateSyntaxError
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
from .assets import video_key
from .email import compile_mjml
from .env import DEFAULT_THEME, make_environment
from .links import LinkPolicy, embed_url
from .locale import item_fonts, locale_for, own_fonts
from .markdown import markdown_to_html
from .text import References, html_to_text, wrap_text

__all__ = ["DEFAULT_THEME", "EMAIL_WIDTH", "NAV_MARKER", "Renderer", "issue_url"]

EMAIL_WIDTH = 600
#: Where an issue's web page gets its previous/next links: they depend on the
#: other issues, so the site fills them in after every issue is rendered.
NAV_MARKER = "<!-- newsletter:issue-nav -->"
#: From an issue page (issues/<slug>/index.html) back to the site's root.
SITE_ROOT = "../../"
_TEMPLATE_SUFFIXES = (".mjml", ".html", ".txt", ".xml")


def issue_url(settings: Settings, issue: Issue) -> str:
    """The web page of an issue: where "view in browser" and share links point."""
    return f"{settings.base_url}issues/{issue.slug}/"


class Renderer:
    """Renders issues of one desk; cheap to reuse across many issues."""

    def __init__(self, settings: Settings, env: Environment | None = None) -> None:
        self.settings = settings
        self.env = env or make_environment(settings.templates_dir)

    def render(self, issue: Issue, assets: IssueAssets) -> RenderedIssue:
        page_url = issue_url(self.settings, issue)
        base = self._context(issue, assets, page_url)
        email_links = LinkPolicy.for_email(page_url, self.settings.utm, issue)
        mjml_source, template = self._render("email", "mjml", issue, base, email_links)
        refs = References()
        text, _ = self._render("text", "txt", issue, base, email_links, refs=refs)
        web_base = dict(base, asset_of=_asset_lookup(assets.images, relative_to=page_url),
                        video_asset_of=_video_lookup(assets.video_thumbnails,
                                                     relative_to=page_url))
        web, _ = self._render("web", "html", issue, web_base, LinkPolicy(page_url))
        return RenderedIssue(
            email_html=compile_mjml(mjml_source, template=f"{template} ({issue.source.name})"),
            text=wrap_text(text),
            web_html=web,
            assets=assets.files,
        )

    def _context(self, issue: Issue, assets: IssueAssets, page_url: str) -> dict[str, Any]:
        settings = self.settings
        return {
            "issue": issue,
            "settings": settings,
            "colors": settings.colors,
            "locale": locale_for(issue.lang),
            "page_url": page_url,
            "unsubscribe_url": settings.unsubscribe,
            "asset_of": _asset_lookup(assets.images),
            "video_asset_of": _video_lookup(assets.video_thumbnails),
            "own_fonts": lambda lang: own_fonts(lang, issue.lang),
            "item_fonts": item_fonts(issue),
            "fit": _fit,
            "embed_url": embed_url,
            "email_width": EMAIL_WIDTH,
            "absolute": lambda url: LinkPolicy(page_url).absolute(url) or "",
            "issue_nav": Markup(NAV_MARKER),
            "site_root": SITE_ROOT,
        }

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

    def theme_file(self, name: str) -> bytes:
        """A file of the theme used as it is (a script), the desk's copy first."""
        assert self.env.loader is not None
        return self.env.loader.get_source(self.env, name)[0].encode()

    def render_page(self, name: str, context: Mapping[str, Any], page_url: str) -> str:
        """A page of the site around the issues (the archive, the 404 page)."""
        links = LinkPolicy(page_url)
        full = {"settings": self.settings, "colors": self.settings.colors,
                "locale": locale_for(self.settings.language), "page_url": page_url,
                "link": _link_or_empty(links), "absolute": lambda url: links.absolute(url) or "",
                "md": lambda source: markdown_to_html(source or "", links), **context}
        try:
            return self.env.get_template(name).render(full)
        except (TemplateError, TypeError, KeyError, AttributeError, ValueError) as exc:
            raise _template_error(exc) from exc

    def _render(self, kind: str, suffix: str, issue: Issue, base: dict[str, Any],
                links: LinkPolicy, refs: References | None = None,
                names: list[str] | None = None) -> tuple[str, str]:
        """The output of the first template found for `kind`, and that template's name."""
        context = dict(base, link=_link_or_empty(links),
                       md=lambda source: markdown_to_html(source or "", links))
        if refs is not None:
            context.update(
                refs=refs,
                prose=lambda source: html_to_text(markdown_to_html(source or "", links), refs),
                cite=lambda url: refs.cite(links(url)) if url else "",
            )
        names = names or [f"{kind}/{issue.slug}.{suffix}", f"{kind}/issue.{suffix}"]
        try:
            template = self.env.select_template(names)
            return template.render(context), template.name or names[-1]
        except (TemplateError, TypeError, KeyError, AttributeError, ValueError) as exc:
            # a desk's template calling a helper wrongly fails with one of the latter
            raise _template_error(exc) from exc


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
