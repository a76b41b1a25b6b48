"""JSON for the hot paths (`run`, `dockyard-runtime`), without the `json` module.

`import json` costs an import of `re` (and `json.decoder`), several ms at start-up
on this kind of machine. Both directions here drive the C code behind the `json`
module directly: its encoder (compact, key order kept, non-ASCII written as UTF-8,
like Go's encoder) and its scanner. Everything that is not on a hot path (inspect,
image configs) uses the `json` module.
"""

from __future__ import annotations

from _json import encode_basestring as _quote
from _json import make_encoder as _make_encoder


def _unknown(obj: object) -> object:
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


# markers=None: no cycle check (config documents are trees); allow_nan=False
_encode = _make_encoder(None, _unknown, _quote, None, ":", ",", False, False, False)


class _Context:
    """What the C scanner reads off a JSONDecoder: json.loads' defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict = {}

    @staticmethod
    def parse_constant(name: str) -> float:
        return float(name.replace("Infinity", "inf"))  # NaN, Infinity, -Infinity


_WHITESPACE = " \t\n\r"


def loads(text: str | bytes) -> object:
    """What json.loads(text) returns, for well-formed text; ValueError otherwise."""
    from _json import make_scanner

    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8-sig" if text[:3] == b"\xef\xbb\xbf" else "utf-8")
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        obj, end = make_scanner(_Context())(text, start)
    except StopIteration as e:
        raise ValueError(f"invalid JSON at character {e.value}") from None
    if text[end:].strip(_WHITESPACE):
        raise ValueError(f"extra data after the JSON value at character {end}")
    return obj


def dumps(obj: object) -> str:
    """Compact JSON of `obj`, as json.dumps(obj, separators=(",", ":"),
    ensure_ascii=False, allow_nan=False) writes it."""
    return "".join(_encode(obj, 0))
