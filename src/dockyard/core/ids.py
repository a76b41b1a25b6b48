"""Container and object ids, and Docker-style random names."""

from __future__ import annotations

import os

HEX = frozenset("0123456789abcdef")


def new_id() -> str:
    """A random 64-hex id whose 12-char short form is never all digits.

    An all-digit short id would read as a number to people and tools; Docker
    skips those ids for the same reason.
    """
    while True:
        cid = os.urandom(32).hex()
        if not cid[:12].isdigit():
            return cid


def is_hex(s: str) -> bool:
    return bool(s) and all(c in HEX for c in s)


def short(cid: str) -> str:
    return cid[:12]


def random_name() -> str:
    """`adjective_surname`, like Docker's generated names."""
    from .names import ADJECTIVES, SURNAMES

    n = int.from_bytes(os.urandom(4), "little")
    return f"{ADJECTIVES[n % len(ADJECTIVES)]}_{SURNAMES[(n // len(ADJECTIVES)) % len(SURNAMES)]}"


def valid_name(name: str) -> bool:
    """Docker's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (an optional leading '/' is dropped by the caller)."""
    if len(name) < 2 or not name[0].isascii() or not name[0].isalnum():
        return False
    return all(c.isascii() and (c.isalnum() or c in "_.-") for c in name[1:])
