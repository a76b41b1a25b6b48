"""``.dockerignore``: which files of the build context the build may see.

The file is read as Docker's ``ignorefile.ReadAll`` reads it, and matched as
moby/patternmatcher's ``MatchesOrParentMatches`` matches:

- a line starting with ``#`` is a comment; blank lines are skipped; each pattern is
  trimmed, cleaned like Go's filepath.Clean (``./a//b/`` -> ``a/b``) and loses a
  leading ``/``, so it is always relative to the context root;
- Go filepath.Match syntax: ``*`` (any run of characters but ``/``), ``?`` (one
  character but ``/``), ``[a-z]`` / ``[^a-z]`` classes, ``\\`` escaping the next
  character; ``**`` matches any number of directories (``**/x``, ``a/**/b``, ``a/**``);
- a pattern that matches a directory excludes everything beneath it;
- ``!pattern`` re-includes what it matches; the last pattern that matches a path
  decides.

A malformed pattern (``[a-``, a trailing ``\\``) is a `DockerfileError` naming the
line of ``.dockerignore``, as Docker refuses the build.
"""

from __future__ import annotations

import re

from ..core.paths import clean
from .dockerfile import DockerfileError

__all__ = ["IgnoreMatcher", "clean"]

_EXACT, _PREFIX, _SUFFIX, _REGEX = range(4)
_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007" \
         "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


class _BadPattern(Exception):
    pass


def _class(p: str, i: int) -> tuple[str, int]:
    """A ``[...]`` class starting after the ``[`` at i-1: (regex, index after ``]``).

    Follows Go's filepath.Match: ``^`` negates, ``-`` makes ranges, ``\\`` escapes;
    an unescaped ``-`` or ``]`` cannot start a range and the class cannot be empty.
    """
    n = len(p)
    negated = i < n and p[i] == "^"
    if negated:
        i += 1

    def char(i: int) -> tuple[str, int]:
        if i >= n or p[i] in "-]":
            raise _BadPattern
        if p[i] == "\\":
            i += 1
            if i >= n:
                raise _BadPattern
        ch = p[i]
        i += 1
        if i >= n:
            raise _BadPattern  # the class is never closed
        return ch, i

    items: list[str] = []
    ranges = 0
    while True:
        if i < n and p[i] == "]" and ranges > 0:
            i += 1
            break
        lo, i = char(i)
        hi = lo
        if p[i] == "-":
            hi, i = char(i + 1)
        ranges += 1
        if lo == hi:
            items.append(re.escape(lo))
        elif lo < hi:
            items.append(f"{re.escape(lo)}-{re.escape(hi)}")
        # a reversed range matches nothing, as in Go
    if not items:
        return ("." if negated else "(?!)"), i
    return ("[^" if negated else "[") + "".join(items) + "]", i


def _translate(p: str) -> tuple[int, str]:
    """(match kind, regex) for a cleaned pattern, with patternmatcher's kinds.

    Plain text is an exact match, ``dir/**`` a prefix match, ``**/x`` (``**`` first)
    a suffix match; anything else a regular expression.
    """
    out: list[str] = []
    kind = _EXACT
    i, n = 0, len(p)
    while i < n:
        at_start = i == 0
        ch = p[i]
        i += 1
        if ch == "*":
            if i < n and p[i] == "*":
                i += 1
                if i < n and p[i] == "/":
                    i += 1  # `**/` is `**`
                if i == n:
                    if kind == _EXACT:
                        kind = _PREFIX
                    else:
                        out.append(".*")
                        kind = _REGEX
                else:
                    out.append("(?:.*/)?")  # any number of directories, even none
                    kind = _REGEX
                if at_start:
                    kind = _SUFFIX
            else:
                out.append("[^/]*")
                kind = _REGEX
        elif ch == "?":
            out.append("[^/]")
            kind = _REGEX
        elif ch == "\\":
            if i >= n:
                raise _BadPattern
            out.append(re.escape(p[i]))
            i += 1
            kind = _REGEX
        elif ch == "[":
            regex, i = _class(p, i)
            out.append(regex)
            kind = _REGEX
        else:
            if ch == "]":
                kind = _REGEX
            out.append(re.escape(ch))
    return kind, "".join(out)


class _Pattern:
    __slots__ = ("text", "exclusion", "kind", "regex", "parts")

    def __init__(self, text: str, exclusion: bool) -> None:
        self.text = text
        self.exclusion = exclusion
        self.kind, source = _translate(text)
        self.regex = re.compile(source, re.S) if self.kind == _REGEX else None
        self.parts: list | None = None

    def match(self, path: str) -> bool:
        kind = self.kind
        if kind == _EXACT:
            return path == self.text
        if kind == _PREFIX:
            return path.startswith(self.text[:-2])
        if kind == _SUFFIX:
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix[:1] == "/" and path == suffix[1:])
        return self.regex.fullmatch(path) is not None

    def may_match_under(self, components: list[str]) -> bool:
        """Whether this pattern could match the directory `components` or a path in it."""
        if self.parts is None:
            self.parts = []
            for part in self.text.split("/"):
                try:
                    if "**" in part:
                        raise _BadPattern
                    self.parts.append(re.compile(_translate(part)[1], re.S))
                except (_BadPattern, re.error):
                    # `**`, or a class or escape spanning a `/`: assume it may match
                    self.parts.append(None)
                    break
        for k, component in enumerate(components):
            if k == len(self.parts):
                return True  # it matches an ancestor: its match covers everything beneath
            part = self.parts[k]
            if part is None:
                return True  # `**` can reach anywhere below
            if part.fullmatch(component) is None:
                return False
        return True


class IgnoreMatcher:
    """The patterns of one ``.dockerignore``, answering which paths are excluded."""

    def __init__(self, patterns: list[str] = (), *, filename: str = ".dockerignore",
                 lines: list[int] | None = None) -> None:
        """`patterns` as `from_lines` leaves them (cleaned, ``!`` kept in front)."""
        self.patterns: list[_Pattern] = []
        for index, text in enumerate(patterns):
            text = text.strip(_SPACE)
            if not text:
                continue
            text = clean(text)
            exclusion = text.startswith("!")
            if exclusion:
                text = text[1:]
                if not text:
                    raise self._error('illegal exclusion pattern: "!"', filename, lines, index)
            try:
                self.patterns.append(_Pattern(text, exclusion))
            except (_BadPattern, re.error):
                raise self._error(f"syntax error in pattern: {text}", filename, lines, index) from None
        self.has_exclusions = any(p.exclusion for p in self.patterns)
        self._parents: dict[tuple[int, str], bool] = {}

    @staticmethod
    def _error(message: str, filename: str, lines: list[int] | None, index: int) -> DockerfileError:
        line = lines[index] if lines is not None and index < len(lines) else None
        return DockerfileError(message, line, filename=filename)

    @classmethod
    def from_file(cls, path: str) -> "IgnoreMatcher":
        """The patterns of the file at `path`; a missing file excludes nothing."""
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return cls()
        except OSError as e:
            raise DockerfileError(f"failed to read {path}: {e.strerror}") from None
        text = data.decode("utf-8", "surrogateescape")
        return cls.from_lines(text.split("\n"))

    @classmethod
    def from_lines(cls, lines: list[str]) -> "IgnoreMatcher":
        """Patterns from the lines of a ``.dockerignore`` (comments and blanks allowed)."""
        patterns: list[str] = []
        numbers: list[int] = []
        for number, line in enumerate(lines, 1):
            if number == 1:
                line = line.removeprefix("\ufeff")
            if line.startswith("#"):
                continue
            pattern = line.strip(_SPACE)
            if not pattern:
                continue
            invert = pattern.startswith("!")
            if invert:
                pattern = pattern[1:].strip(_SPACE)
            if pattern:
                pattern = clean(pattern)
                if len(pattern) > 1 and pattern.startswith("/"):
                    pattern = pattern[1:]
            patterns.append("!" + pattern if invert else pattern)
            numbers.append(number)
        return cls(patterns, lines=numbers)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def _parent_matches(self, index: int, pattern: _Pattern, parent: str) -> bool:
        key = (index, parent)
        found = self._parents.get(key)
        if found is None:
            found = pattern.match(parent)
            if not found:
                slash = parent.rfind("/")
                found = slash > 0 and self._parent_matches(index, pattern, parent[:slash])
            self._parents[key] = found
        return found

    def excluded(self, relpath: str) -> bool:
        """Whether the '/'-separated path, relative to the context root, is excluded."""
        if not self.patterns:
            return False
        path = clean(relpath).lstrip("/")
        if path in ("", "."):
            return False  # the context root itself is never excluded
        slash = path.rfind("/")
        parent = path[:slash] if slash > 0 else None
        matched = False
        for index, pattern in enumerate(self.patterns):
            if pattern.exclusion != matched:
                continue  # only an exception can undo a match, only a pattern make one
            match = pattern.match(path)
            if not match and parent is not None:
                match = self._parent_matches(index, pattern, parent)
            if match:
                matched = not pattern.exclusion
        return matched

    def may_have_included_children(self, reldir: str) -> bool:
        """Whether an ``!`` exception could re-include something inside directory `reldir`.

        A walk that finds a directory excluded may skip it when this is false.
        """
        if not self.has_exclusions:
            return False
        path = clean(reldir).lstrip("/")
        if path in ("", "."):
            return True
        components = path.split("/")
        return any(p.exclusion and p.may_match_under(components) for p in self.patterns)
