"""Template tags for export download links."""

from __future__ import annotations

from django import template

from annotations.exports.registry import EXPORT_FORMATS, ExportFormat

register = template.Library()


@register.simple_tag
def export_formats() -> list[ExportFormat]:
    """Every registered export format, in registration order."""
    return list(EXPORT_FORMATS.values())
