"""Go's time.Duration as Docker's flags read and print it: `1m30s`, `500ms`, `2h`.

Docker's `--health-*` flags are Go durations, stored in nanoseconds
(Config.Healthcheck.Interval) and printed with Go's `Duration.String` in messages
such as "Health check exceeded timeout (30s)"; `logs --since 1h30m` takes the same
syntax. Both directions live here so they agree.
"""

from __future__ import annotations

_UNITS = {"ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000,
          "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
_MAX = (1 << 63) - 1


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration: nanoseconds, or ValueError('time: invalid duration "x"')."""
    s = text
    bad = ValueError(f'time: invalid duration "{text}"')
    neg = False
    if s[:1] in ("-", "+"):
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise bad
    total = 0
    i = 0
    n = len(s)
    while i < n:
        start = i
        while i < n and s[i].isdigit() and s[i].isascii():
            i += 1
        whole = s[start:i]
        frac = ""
        if i < n and s[i] == ".":
            i += 1
            fstart = i
            while i < n and s[i].isdigit() and s[i].isascii():
                i += 1
            frac = s[fstart:i]
        if not whole and not frac:
            raise bad
        ustart = i
        while i < n and not (s[i].isdigit() or s[i] == "."):
            i += 1
        unit = s[ustart:i]
        if not unit:
            raise ValueError(f'time: missing unit in duration "{text}"')
        scale = _UNITS.get(unit)
        if scale is None:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{text}"')
        value = int(whole or "0") * scale
        if frac:
            value += int(frac) * scale // 10 ** len(frac)
        total += value
        if total > _MAX:
            raise bad
    return -total if neg else total


def format_duration(ns: int) -> str:
    """Go's Duration.String: `1m30s`, `500ms`, `1.5s`, `0s`."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < 1_000_000_000:
        for scale, unit in ((1_000_000, "ms"), (1_000, "\u00b5s"), (1, "ns")):
            if u >= scale:
                return sign + _frac(u, scale) + unit
    h, rest = divmod(u, 3_600_000_000_000)
    m, rest = divmod(rest, 60_000_000_000)
    out = _frac(rest, 1_000_000_000) + "s"
    if h or m:
        out = f"{m}m" + out
    if h:
        out = f"{h}h" + out
    return sign + out


def _frac(value: int, scale: int) -> str:
    whole, frac = divmod(value, scale)
    if not frac:
        return str(whole)
    digits = len(str(scale)) - 1
    return f"{whole}." + f"{frac:0{digits}d}".rstrip("0")


def parse_timestamp(value: str, now_ns: int) -> int:
    """Docker's `--since`/`--until` value (timetypes.GetTimestamp) in ns: a Go duration
    before now (`10m`, `1h30m`), an RFC 3339 date or time (`2026-01-02`,
    `2026-01-02T15:04:05.5Z`, `...+01:00`; local time without a zone), or a Unix
    timestamp (`1700000000`, `1700000000.5`). ValueError with Docker's words otherwise."""
    v = value.strip()
    if v != "0":
        try:
            return now_ns - parse_duration(v)
        except ValueError:
            pass
    zoned = any(c in v for c in "zZ+") or v.count("-") == 3
    if "-" in v:
        try:
            return _parse_rfc3339ish(v, zoned)
        except ValueError:
            raise ValueError(f'parsing time "{value}": cannot parse as RFC 3339 date or time') from None
    whole, dot, frac = v.partition(".")
    if whole.lstrip("-").isdigit() and (not dot or frac.isdigit()):
        ns = int((frac + "000000000")[:9]) if dot else 0
        sec = int(whole)
        return sec * 1_000_000_000 + (ns if sec >= 0 else -ns)
    raise ValueError(f'failed to parse value as time or duration: "{value}"')


def _parse_rfc3339ish(v: str, zoned: bool) -> int:
    import calendar
    import time

    offset = None
    t = v
    if zoned:
        if t[-1:] in "zZ":
            offset, t = 0, t[:-1]
        elif len(t) > 6 and t[-6] in "+-" and t[-3] == ":":
            sign = 1 if t[-6] == "+" else -1
            offset = sign * (int(t[-5:-3]) * 3600 + int(t[-2:]) * 60)
            t = t[:-6]
        else:
            raise ValueError(v)
    frac = 0
    if "." in t:
        t, f = t.split(".", 1)
        if not f.isdigit():
            raise ValueError(v)
        frac = int((f + "000000000")[:9])
    date, _, clock = t.partition("T")
    parts = clock.split(":") if clock else []
    if len(parts) > 3 or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise ValueError(v)
    parts += ["00"] * (3 - len(parts))
    tm = time.strptime(f"{date}T{':'.join(parts)}", "%Y-%m-%dT%H:%M:%S")
    if offset is None:
        sec = int(time.mktime(tm))  # no zone given: local time, as Docker reads it
    else:
        sec = calendar.timegm(tm) - offset
    return sec * 1_000_000_000 + frac
