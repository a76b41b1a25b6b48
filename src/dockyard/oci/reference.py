"""Image references: parsing and normalisation as Docker does it.

`busybox` -> `docker.io/library/busybox:latest`; `localhost:5000/me/app:1@sha256:...`
keeps its registry, tag and digest. Written without `re`, which the `run` hot
path cannot afford to import.

Grammar (from the distribution reference spec)::

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [ domain "/" ] component ( "/" component )*
    domain     := host [ ":" port ]       # first part holding "." or ":", or "localhost"
    component  := alnum+ ( separator alnum+ )*     separator := "." | "_" | "__" | "-"+
    tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
"""

from __future__ import annotations

from ..errors import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"

_LOWER_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_TAG_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_TAG_REST = _TAG_FIRST | frozenset(".-")
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-[]:")


def _bad(text: str, why: str = "") -> InvalidArgument:
    return InvalidArgument(f"invalid reference format{': ' + why if why else ''}: {text!r}")


def _valid_component(c: str) -> bool:
    if not c or c[0] not in _LOWER_ALNUM or c[-1] not in _LOWER_ALNUM:
        return False
    i, n = 0, len(c)
    while i < n:
        ch = c[i]
        if ch in _LOWER_ALNUM:
            i += 1
            continue
        # a separator: ".", "_", "__" or a run of "-", always between alnums
        j = i
        if ch == "-":
            while j < n and c[j] == "-":
                j += 1
        elif ch == "_":
            j = i + 2 if c[i:i + 2] == "__" else i + 1
        elif ch == ".":
            j = i + 1
        else:
            return False
        if j >= n or c[j] not in _LOWER_ALNUM:
            return False
        i = j
    return True


class Reference:
    """A parsed, normalised image reference."""

    __slots__ = ("domain", "path", "tag", "digest")

    def __init__(self, domain: str, path: str, tag: str | None, digest: str | None) -> None:
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest

    @property
    def name(self) -> str:
        """`docker.io/library/busybox` - the repository, fully qualified."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """`busybox`, `me/app`, `localhost:5000/app` - the repository as users write it."""
        if self.domain == DEFAULT_DOMAIN:
            p = self.path
            return p[len(OFFICIAL_PREFIX):] if p.startswith(OFFICIAL_PREFIX) and p.count("/") == 1 else p
        return self.name

    def __str__(self) -> str:
        """The full, normalised form: `docker.io/library/busybox:latest`."""
        s = self.name
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s

    @property
    def familiar(self) -> str:
        s = self.familiar_name
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s

    def __repr__(self) -> str:
        return f"Reference({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reference) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


def valid_tag(tag: str) -> bool:
    """[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"""
    return bool(tag) and len(tag) <= 128 and tag[0] in _TAG_FIRST and all(c in _TAG_REST for c in tag)


def parse(text: str, default_tag: bool = True) -> Reference:
    """Parse and normalise; adds `:latest` when neither tag nor digest is given."""
    if not text or len(text) > 4096:
        raise _bad(text)
    rest, at, digest = text.partition("@")
    if at:
        from .digest import is_digest

        if not is_digest(digest):
            raise _bad(text, "invalid digest")
    else:
        digest = None
    # a tag follows the last ":" only if no "/" comes after it (else it is a port)
    tag = None
    colon = rest.rfind(":")
    if colon > rest.rfind("/"):
        rest, tag = rest[:colon], rest[colon + 1:]
        if not valid_tag(tag):
            raise _bad(text)
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        domain, path = first, remainder
        if any(c not in _HOST_CHARS for c in domain):
            raise _bad(text)
    else:
        domain, path = DEFAULT_DOMAIN, rest
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if not path:
        raise _bad(text)
    parts = path.split("/")
    for c in parts:
        if not _valid_component(c):
            if c.lower() != c and _valid_component(c.lower()):
                raise InvalidArgument(f"invalid reference format: repository name ({path}) must be lowercase")
            raise _bad(text)
    if domain == DEFAULT_DOMAIN and len(parts) == 1:
        path = OFFICIAL_PREFIX + path
    if len(domain) + 1 + len(path) > 255:
        raise _bad(text, "repository name must not be more than 255 characters")
    if tag is None and digest is None and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def familiar(full: str) -> str:
    """`docker.io/library/busybox:latest` -> `busybox:latest` for display."""
    return parse(full, default_tag=False).familiar
