"""Turning nanoseconds, ratios and bytes into short texts for people."""

from __future__ import annotations


def seconds(ns: int | float) -> str:
    """Nanoseconds as seconds with three decimals ("1.234 s")."""
    return f"{ns / 1e9:.3f} s"


def milliseconds(ns: int | float) -> str:
    """Nanoseconds as milliseconds, one decimal ("12.3 ms"); "" for negative (unknown) values."""
    return "" if ns < 0 else f"{ns / 1e6:.1f}"


def percent(ratio: float) -> str:
    """A ratio as a percentage ("61.2%")."""
    return f"{ratio * 100:.1f}%"


def size(n_bytes: int | float) -> str:
    """A byte count in binary units ("23.4 MiB")."""
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def count(n: int) -> str:
    """A count with thousands separators ("1,000,000")."""
    return f"{n:,}"
