"""Template tags for export download links."""

from __future__ import annotations

from django import template

from annotations.exports.registry import EXPORT_FORMATS, ExportFormat

register = template.Library()


@register.simple_tag
def export_formats() -> list[ExportFormat]:
    """Every registered export format for researchers, in registration order (admin-only
    formats, which name people, are downloaded from the API or the command)."""
    return [f for f in EXPORT_FORMATS.values() if not f.admin_only]
