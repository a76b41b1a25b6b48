"""JSON for the hot paths (`run`, `dockyard-runtime`), without the `json` module.

`import json` costs an import of `re` (and `json.decoder`), several ms at start-up
on this kind of machine. The writer needs only dicts, lists, strings, numbers,
booleans and None, with strings escaped by the C helper `json` itself uses; the
reader is the C scanner behind `json.loads`, driven directly. Everything that is
not on a hot path (inspect, image configs) uses the `json` module.
"""

from __future__ import annotations

try:
    from _json import encode_basestring as _quote  # the C escaper behind json.dumps
except ImportError:  # pragma: no cover - other Python implementations
    from json.encoder import py_encode_basestring as _quote


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
    """Compact JSON, key order kept, non-ASCII written as UTF-8 (like Go's encoder)."""
    out: list[str] = []
    _write(obj, out.append)
    return "".join(out)


def _write(obj: object, w) -> None:
    if isinstance(obj, str):
        w(_quote(obj))
    elif obj is None:
        w("null")
    elif obj is True:
        w("true")
    elif obj is False:
        w("false")
    elif isinstance(obj, int):
        w(int.__repr__(obj))
    elif isinstance(obj, float):
        if obj != obj or obj in (float("inf"), float("-inf")):
            raise ValueError("JSON cannot hold NaN or infinity")
        w(float.__repr__(obj))
    elif isinstance(obj, dict):
        w("{")
        first = True
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"JSON object keys must be strings, not {type(k).__name__}")
            if not first:
                w(",")
            first = False
            w(_quote(k))
            w(":")
            _write(v, w)
        w("}")
    elif isinstance(obj, (list, tuple)):
        w("[")
        for i, v in enumerate(obj):
            if i:
                w(",")
            _write(v, w)
        w("]")
    else:
        raise TypeError(f"cannot write {type(obj).__name__} as JSON")
