"""The spreadsheet formula guard of every CSV download (OWASP "CSV injection")."""

from __future__ import annotations

# Characters that make a spreadsheet read a cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def formula_guard(value: str) -> str:
    """`value` with a single quote in front when a spreadsheet would run it as a formula
    ("-1" becomes "'-1"), so the cell shows as text."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value
