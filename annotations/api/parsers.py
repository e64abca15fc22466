"""Request body parsers of the API: DRF's JSON parser, with deep nesting a 400, not a 500."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


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
