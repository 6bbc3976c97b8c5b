"""Startup-written Markdown, rendered for buyers' pages: sanitised, because another tenant wrote it."""
from __future__ import annotations

import html
import re
import threading
from functools import lru_cache

import markdown as _markdown
import nh3

# What a solution description may contain. No images (they would load from third-party hosts and
# track buyers), no raw HTML, no scripts: nh3 keeps these tags and drops everything else.
ALLOWED_TAGS = {"p", "br", "hr", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a",
                "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"scope"}}
URL_SCHEMES = {"http", "https", "mailto"}

_HEADING = re.compile(r"<(/?)h([1-6])(\s|>)")


def _demote_headings(rendered: str) -> str:
    # The page already has its h1 (the solution) and an h2 ("Description"): the text's own heading
    # levels, whatever they are ("##" then "####"), become h3, h4… in their order, so the outline
    # neither climbs above the page's nor skips a level for screen readers (RGAA 9.1).
    levels = sorted({int(m[2]) for m in _HEADING.finditer(rendered)})
    rank = {level: min(6, 3 + i) for i, level in enumerate(levels)}
    return _HEADING.sub(lambda m: f"<{m[1]}h{rank[int(m[2])]}{m[3]}", rendered)


# Building a Markdown converter (its parser and extensions) cost more than converting a page's text
# with it: each thread keeps one, reset before each text.
_converters = threading.local()


def _converter(name: str, **options) -> _markdown.Markdown:
    converter = getattr(_converters, name, None)
    if converter is None:
        converter = _markdown.Markdown(**options)
        setattr(_converters, name, converter)
    return converter.reset()


# A description is rendered on every visit of its page and changes seldom: the safe HTML of the
# texts rendered last is kept (the function is pure: the same text always gives the same HTML).
@lru_cache(maxsize=2048)
def render_markdown(text: str | None) -> str:
    """Markdown → safe HTML (a string to mark safe in templates)."""
    if not text:
        return ""
    rendered = _converter("page", extensions=["sane_lists", "tables"], output_format="html").convert(text)
    return nh3.clean(
        _demote_headings(rendered),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


def plain_text(text: str | None) -> str:
    """The words of a Markdown text, without markup (search index, CSV export)."""
    if not text:
        return ""
    words = nh3.clean(_converter("plain").convert(text), tags=set())
    return re.sub(r"\s+", " ", html.unescape(words)).strip()
