"""Small formatting filters for the reviewer pages."""

from __future__ import annotations

import json

from django import template

register = template.Library()


@register.filter
def percent(value) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.0f}%"


@register.filter
def seconds(value) -> str:
    """12 s, 3 min 5 s, 1 h 4 min."""
    if value is None:
        return "—"
    value = int(value)
    if value < 60:
        return f"{value} s"
    if value < 3600:
        return f"{value // 60} min {value % 60} s"
    return f"{value // 3600} h {value % 3600 // 60} min"


@register.filter
def as_json(value) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
