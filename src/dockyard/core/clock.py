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
    """The inverse of rfc3339 for what Dockyard and Docker write (UTC or an offset).
    Parsed by hand: time.strptime and calendar cost ~5 ms to load, on every pull."""
    t = text.strip()
    offset = 0
    if t.endswith(("Z", "z")):
        t = t[:-1]
    elif len(t) > 6 and t[-6] in "+-" and t[-3] == ":":
        sign = 1 if t[-6] == "+" else -1
        offset = sign * (int(t[-5:-3]) * 3600 + int(t[-2:]) * 60)
        t = t[:-6]
    frac = 0
    if "." in t:
        t, f = t.split(".", 1)
        if not f.isdigit():
            raise ValueError(f"bad time: {text!r}")
        frac = int((f + "000000000")[:9])
    if len(t) != 19 or t[4] != "-" or t[7] != "-" or t[10] not in "Tt" or t[13] != ":" or t[16] != ":":
        raise ValueError(f"bad time: {text!r}")
    fields = (t[0:4], t[5:7], t[8:10], t[11:13], t[14:16], t[17:19])
    if not all(x.isdigit() and x.isascii() for x in fields):
        raise ValueError(f"bad time: {text!r}")
    year, month, day, hour, minute, second = map(int, fields)
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    mdays = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    if not (1 <= month <= 12 and 1 <= day <= mdays[month - 1] and hour < 24 and minute < 60 and second < 62):
        raise ValueError(f"bad time: {text!r}")
    return ((_days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset)
            * 1_000_000_000 + frac)


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468
