"""Safe server-side Markdown for model outputs, prompts and instructions (outputs are hostile)."""

from __future__ import annotations

import html
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

ALLOWED_LINK_SCHEMES = ("http:", "https:", "mailto:")
# Code blocks larger than this are shown plain: highlighting them costs more than it helps.
HIGHLIGHT_MAX_CHARS = 50_000

_FORMATTER = HtmlFormatter(cssclass="highlight", nowrap=True)


@lru_cache(maxsize=256)
def _lexer(name: str) -> Any:
    # Finding a lexer by name walks Pygments' whole registry; a lexer can be reused.
    try:
        return get_lexer_by_name(name)
    except ClassNotFound:
        return None


def _highlight(code: str, lang: str, _attrs: Any) -> str:
    if not lang or len(code) > HIGHLIGHT_MAX_CHARS:
        return ""
    lexer = _lexer(lang.strip().split()[0].lower())
    if lexer is None:
        return ""
    # Pygments escapes the code itself and emits class names only (no inline styles); markdown-it
    # uses a result that starts with <pre as the whole block.
    body = pygments_highlight(code, lexer, _FORMATTER)
    language = html.escape(lexer.name, quote=True)
    return f'<pre class="highlight" data-language="{language}"><code>{body}</code></pre>\n'


def _validate_link(url: str) -> bool:
    # Only absolute web and mail links become links; javascript:, data:, vbscript:, relative
    # paths into this app and everything else stay text.
    return url.strip().lower().startswith(ALLOWED_LINK_SCHEMES)


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt(
        "commonmark",
        # html=False: raw HTML in the source is escaped and shown as text.
        {"html": False, "linkify": False, "typographer": False, "highlight": _highlight},
    )
    md.enable("table").enable("strikethrough")
    # Images would make the rater's browser fetch arbitrary URLs; show their Markdown instead.
    md.disable("image")
    md.validateLink = _validate_link  # type: ignore[method-assign]

    def link_open(renderer: Any, tokens: list, idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("rel", "nofollow noopener noreferrer")
        tokens[idx].attrSet("target", "_blank")
        return renderer.renderToken(tokens, idx, options, env)

    md.add_render_rule("link_open", link_open)
    return md


# Each output is shown to k raters and prompts to more: keep recent renderings of small texts.
CACHE_MAX_CHARS = 20_000


@lru_cache(maxsize=2048)
def _render_cached(text: str) -> str:
    return _parser().render(text)


def markdown_render(text: str) -> str:
    """HTML for `text` as Markdown: tables, highlighted code, safe links, raw HTML escaped."""
    text = text or ""
    if len(text) <= CACHE_MAX_CHARS:
        return _render_cached(text)
    return _parser().render(text)
