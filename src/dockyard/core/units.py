"""Sizes and durations as Docker reads and prints them."""

from __future__ import annotations

_BINARY = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_size(text: str) -> int:
    """`32m`, `1.5g`, `512kb`, `1024` -> bytes (binary multiples, like Docker's RAMInBytes)."""
    s = text.strip().lower()
    if s.endswith("b") and len(s) > 1 and s[-2] in "kmgtp":
        s = s[:-1]
    unit = s[-1:] if s[-1:] in "bkmgtp" else ""
    num = s[: len(s) - len(unit)] if unit else s
    try:
        value = float(num)
    except ValueError:
        raise ValueError(f"invalid size: '{text}'") from None
    if value < 0 or value != value or not num or num.startswith(("+", "-")) or "e" in num:
        raise ValueError(f"invalid size: '{text}'")
    return int(value * _BINARY[unit])


def _g3(value: float) -> str:
    """Go's %.3g for the magnitudes sizes have (no exponent below 1e21)."""
    if value >= 100:
        return str(int(round(value)))
    s = f"{value:.{2 if value < 10 else 1}f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def human_size(n: float) -> str:
    """Decimal units with 3 significant digits: `4.26MB`, `862B` (docker images)."""
    units = ("B", "kB", "MB", "GB", "TB", "PB")
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000.0
        i += 1
    s = _g3(n)
    if s == "1000" and i < len(units) - 1:  # rounding carried into the next unit
        s, i = "1", i + 1
    return s + units[i]


def bytes_size(n: float) -> str:
    """Binary units with 4 significant digits: `23.47GiB` (docker info, stats)."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
    i = 0
    while n >= 1024 and i < len(units) - 1:
        n /= 1024.0
        i += 1
    s = f"{n:.4g}"
    return s + units[i]


def human_duration(seconds: float) -> str:
    """Docker's wording for an age: `Less than a second`, `5 seconds`, `About a minute`..."""
    s = int(seconds)
    if seconds < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def parse_cpus(text: str) -> int:
    """`--cpus 0.5` -> nano-CPUs (500000000), as Docker stores NanoCPUs."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"invalid argument {text!r} for \"--cpus\" flag: failed to parse {text!r} as a rational number") from None
    if value < 0 or value != value:
        raise ValueError(f"invalid argument {text!r} for \"--cpus\" flag")
    return int(round(value * 1e9))
