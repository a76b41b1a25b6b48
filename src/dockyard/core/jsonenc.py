"""A small JSON writer for the `run` hot path.

`json.dumps` costs an import of `re` (and `json.decoder`), several ms at start-up on
this kind of machine; the bundle's config.json only needs dicts, lists, strings,
numbers, booleans and None. Strings are escaped by the C helper `json` itself uses.
Everything else (inspect, image configs) uses the `json` module.
"""

from __future__ import annotations

try:
    from _json import encode_basestring as _quote  # the C escaper behind json.dumps
except ImportError:  # pragma: no cover - other Python implementations
    from json.encoder import py_encode_basestring as _quote


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
