"""Pre-flight checks of an issue before it goes out: what would embarrass
the desk (a clipped email, a dead link, a picture without alt text, CSS
that Outlook ignores, a story that already ran).

Each check module returns `Finding`s; `api.check_issue` runs them and the
CLI prints them grouped by severity. `CODES` names every finding a check
can make: an editor accepts one by its code (`accept:` in an issue,
`check.accept` in newsletter.yaml), and a code that is not here is an error.
"""

from __future__ import annotations

from ..model import Finding, Severity

__all__ = ["CODES", "Finding", "Severity"]

#: Every finding code, with what it means (docs/issue-format.md lists them too).
CODES: dict[str, str] = {
    "accept-unknown": "an accept: names a code no check makes",
    "blurb-trimmed": "a feed's summary was cut to make a blurb",
    "build": "the issue cannot be built",
    "client-support": "CSS or HTML that some email programs ignore",
    "dark-mode-color": "text coloured without a background behind it",
    "email-clipped": "the email is past Gmail's 102 KB clipping limit",
    "email-size": "the email is close to Gmail's clipping limit",
    "image-alt": "a picture has no alt text",
    "image-alt-filename": "a picture's alt text is a file name",
    "image-soft": "a picture is narrower than twice the width it is shown at",
    "image-wide": "a picture is wider than 1,200 pixels",
    "image-width": "a picture's width is not known",
    "invalid": "the issue file has a mistake",
    "lang-missing": "the email does not say its language",
    "link-dead": "a link leads to a missing page (404, 410)",
    "link-invalid": "a link is not a web address that can be asked",
    "link-moved": "a link redirects for good to another address",
    "link-redirect-loop": "a link redirects in a circle",
    "link-refused": "a site refused the link checker",
    "link-reused": "a link already ran in a recent issue",
    "link-server-error": "a site answered with an error",
    "link-text": "a link's text does not say where it goes",
    "link-timeout": "a site did not answer in time",
    "link-unreachable": "a site could not be reached",
    "picture-left-out": "a story's picture cannot be used and is left out",
    "placeholder": "a placeholder (TK, TODO, lorem ipsum) is still in the text",
    "preheader-missing": "the issue has no preheader",
    "story-old": "a picked story is older than the desk's window",
    "subject-long": "the subject is longer than phones show",
    "table-role": "layout tables that screen readers announce",
    "unsubscribe-missing": "a desk template dropped the unsubscribe link",
}
