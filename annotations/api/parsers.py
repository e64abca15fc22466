"""How the API reads bodies and picks answers: deep JSON is a 400, and every answer is JSON."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.request import Request


class SafeJSONParser(JSONParser):
    """DRF's JSONParser, except that JSON nested past Python's recursion limit is a 400.

    The standard library's decoder recurses once per level and raises RecursionError (not
    ValueError, which DRF turns into a ParseError), so a body of 5,000 "[" answered 500.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None


class JSONOnlyNegotiation(DefaultContentNegotiation):
    """Every answer is JSON, whatever the client's Accept header or a `?format=` parameter say.

    DRF would answer 406 to `Accept: text/html` and let `?format=` pick a renderer; the API has
    one renderer, and under /api/ every answer, errors included, is JSON (the exports' own
    `format` parameter names a file format, not a renderer).
    """

    def select_renderer(
        self, request: Request, renderers: list[Any], format_suffix: str | None = None
    ) -> tuple[Any, str]:
        renderer = renderers[0]
        return renderer, renderer.media_type
