"""Content digests (`sha256:<64 hex>`), the names of everything in the content store."""

from __future__ import annotations

from ..errors import InvalidArgument

ALGORITHM = "sha256"


def validate(digest: str) -> str:
    """Return the hex part of a sha256 digest, or raise: digests name files on disk."""
    algo, sep, hexpart = digest.partition(":")
    if not sep or algo != ALGORITHM:
        raise InvalidArgument(f"unsupported digest algorithm: {digest!r}")
    if len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise InvalidArgument(f"invalid digest: {digest!r}")
    return hexpart


def is_digest(s: str) -> bool:
    try:
        validate(s)
        return True
    except InvalidArgument:
        return False


def of_bytes(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def chain_ids(diff_ids: list[str]) -> list[str]:
    """ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    out: list[str] = []
    for d in diff_ids:
        out.append(d if not out else of_bytes(f"{out[-1]} {d}".encode()))
    return out
