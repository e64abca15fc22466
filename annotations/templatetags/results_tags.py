"""Template filters and tags for the results page: percentages, p-values, ratings with missing
values, times, heatmap colour classes and the small interval bars of the summary."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

# An en dash marks a number that does not exist (no judgments, no interval).
MISSING = "\u2013"
# Heatmap cells are coloured by class (the page's CSP allows no inline style): h0 ... h10.
HEAT_STEPS = 10
_BAR_WIDTH = 220
_BAR_PAD = 6


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
def p_is(value: Any) -> str:
    """A p-value after "p": "= 0.123", "< 0.001", or an en dash when missing."""
    text = pvalue(value)
    return text.replace("<", "< ") if text.startswith("<") else f"= {text}"


@register.filter
def num(value: Any, digits: int = 0) -> str:
    if value is None or value == "":
        return MISSING
    return f"{float(value):,.{int(digits)}f}"


@register.filter
def sortvalue(value: Any) -> str:
    """A number as the sortable tables read it from data-value; missing -> empty (sorts last)."""
    if value is None or value == "":
        return ""
    return repr(float(value))


@register.filter
def get(mapping: Any, key: Any) -> Any:
    """mapping[key], or None: a dict looked up by a variable key in a template."""
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def iso_time(value: Any) -> datetime | None:
    """An ISO 8601 time of the results ("computed_at") as a datetime for the date filters."""
    if isinstance(value, datetime):
        return value
    try:
        return parse_datetime(str(value)) if value else None
    except ValueError:
        return None


@register.filter
def heat(value: Any) -> str:
    """The colour class of a rate from 0 to 1 (h0 red ... h5 white ... h10 blue), or h-none."""
    if value is None or value == "":
        return "h-none"
    step = round(max(0.0, min(1.0, float(value))) * HEAT_STEPS)
    return f"h{step}"


@register.filter
def kappa_heat(value: Any) -> str:
    """The colour class of a kappa: below 0 as h0-h5 (none to chance), 0 to 1 as h5-h10."""
    if value is None or value == "":
        return "h-none"
    return heat((max(-1.0, min(1.0, float(value))) + 1) / 2)


@register.filter
def degenerate(row: Any) -> bool:
    """An interval of no width: every resample gave the same value, which is not certainty."""
    low, high = row.get("ci_low"), row.get("ci_high")
    return low is not None and low == high


def _x(value: float) -> float:
    return round(_BAR_PAD + max(0.0, min(1.0, value)) * (_BAR_WIDTH - 2 * _BAR_PAD), 1)


@register.simple_tag
def ci_bar(row: Any) -> SafeString:
    """A win rate and its interval on a 0-100% line with the 50% mark, as inline SVG; the
    length-controlled interval under it when the row has one. Numbers only: no text from the
    data goes into the markup."""
    rate = row.get("win_rate")
    if rate is None:
        return format_html("{}", MISSING)
    low = row.get("ci_low") if row.get("ci_low") is not None else rate
    high = row.get("ci_high") if row.get("ci_high") is not None else rate
    lc = row.get("lc_win_rate")
    height = 22 if lc is not None else 14
    parts = [
        format_html(
            '<line class="ci-mid" x1="{0}" x2="{0}" y1="0" y2="{1}"></line>', _x(0.5), height
        ),
        format_html(
            '<rect class="ci-range" x="{}" y="3" width="{}" height="8" rx="2"></rect>',
            _x(low),
            max(1.0, round(_x(high) - _x(low), 1)),
        ),
        format_html('<circle class="ci-dot" cx="{}" cy="7" r="3.5"></circle>', _x(rate)),
    ]
    if lc is not None:
        lc_low = row.get("lc_ci_low") if row.get("lc_ci_low") is not None else lc
        lc_high = row.get("lc_ci_high") if row.get("lc_ci_high") is not None else lc
        parts += [
            format_html(
                '<rect class="ci-lc" x="{}" y="15" width="{}" height="4" rx="1"></rect>',
                _x(lc_low),
                max(1.0, round(_x(lc_high) - _x(lc_low), 1)),
            ),
            format_html('<circle class="ci-lc-dot" cx="{}" cy="17" r="2.5"></circle>', _x(lc)),
        ]
    return format_html(
        '<svg class="ci-bar ci-{}" width="{}" height="{}" viewBox="0 0 {} {}" '
        'aria-hidden="true" focusable="false">{}</svg>',
        str(row.get("verdict", "none")).replace(" ", "-"),
        _BAR_WIDTH,
        height,
        _BAR_WIDTH,
        height,
        SafeString("".join(parts)),
    )


@register.simple_tag
def query_without(query: Any, *names: str, **extra: Any) -> str:
    """A page's query string (a QueryDict) without `names`, plus `extra` values: the links
    that drop one filter, load a section or download a file keep every other option."""
    copy = query.copy()
    for name in names:
        copy.pop(name, None)
    for name, value in extra.items():
        copy[name] = value
    return copy.urlencode()


@register.simple_tag
def judge_rate(judge: dict[str, Any], name: str) -> dict[str, Any] | None:
    """An automatic judge's win-rate row for model `name` (results["judges"]), or None."""
    for row in judge.get("generators") or []:
        if row.get("name") == name:
            return row
    return None
