"""Timestamps: the store keeps integer nanoseconds; output uses RFC 3339 like Docker."""

from __future__ import annotations

import time

ZERO_TIME = "0001-01-01T00:00:00Z"


def now_ns() -> int:
    return time.time_ns()


def rfc3339(ns: int | None) -> str:
    """`2026-11-28T09:40:20.123456789Z` (Go's RFC3339Nano, trailing zeros trimmed)."""
    if not ns:
        return ZERO_TIME
    sec, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    if frac:
        return f"{base}.{frac:09d}".rstrip("0") + "Z"
    return base + "Z"


def rfc3339_fixed(ns: int) -> str:
    """Nine fraction digits always, as Docker's json-file log lines carry them."""
    sec, frac = divmod(ns, 1_000_000_000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(sec))}.{frac:09d}Z"


def parse_rfc3339(text: str) -> int:
    """The inverse of rfc3339 for what Dockyard and Docker write (UTC or an offset)."""
    import calendar

    t = text.strip()
    offset = 0
    if t.endswith("Z"):
        t = t[:-1]
    elif len(t) > 6 and t[-6] in "+-" and t[-3] == ":":
        sign = 1 if t[-6] == "+" else -1
        offset = sign * (int(t[-5:-3]) * 3600 + int(t[-2:]) * 60)
        t = t[:-6]
    frac = 0
    if "." in t:
        t, f = t.split(".", 1)
        frac = int((f + "000000000")[:9])
    tm = time.strptime(t, "%Y-%m-%dT%H:%M:%S")
    return (calendar.timegm(tm) - offset) * 1_000_000_000 + frac
