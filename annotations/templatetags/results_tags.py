"""Template filters for results tables: percentages, p-values and ratings with missing values."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

# An en dash marks a number that does not exist (no judgments, no interval).
MISSING = "\u2013"


@register.filter
def pct(value: Any, digits: int = 1) -> str:
    """0.6234 -> "62.3%"; missing -> an en dash."""
    if value is None or value == "":
        return MISSING
    return f"{100 * float(value):.{int(digits)}f}%"


@register.filter
def pvalue(value: Any) -> str:
    if value is None or value == "":
        return MISSING
    value = float(value)
    return "<0.001" if value < 0.001 else f"{value:.3f}"


@register.filter
def num(value: Any, digits: int = 0) -> str:
    if value is None or value == "":
        return MISSING
    return f"{float(value):,.{int(digits)}f}"
