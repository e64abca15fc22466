"""What machine a benchmark ran on: CPU model, cores, RAM and Python, for its printed figures."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or what platform knows elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def ram_gib() -> float | None:
    """Total RAM in GiB from /proc/meminfo; None where it cannot be read."""
    try:
        return int(Path("/proc/meminfo").read_text().split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        return None


def machine_line(*, postgres: str | None = None) -> str:
    """One line for a benchmark's output: CPU; cores; RAM; Python[; PostgreSQL]; OS."""
    ram = ram_gib()
    parts = [
        cpu_model(),
        f"{os.cpu_count()} cores",
        f"{ram:.1f} GiB RAM" if ram is not None else "RAM unknown",
        f"Python {platform.python_version()}",
    ]
    if postgres:
        parts.append(f"PostgreSQL {postgres}")
    parts.append(f"{platform.system()} {platform.release()}")
    return "; ".join(parts)
