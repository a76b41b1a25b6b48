"""The Dockerfile parser: text -> instructions -> stages, with BuildKit's rules.

Two passes, as BuildKit's frontend makes them:

1. **Lines.** Parser directives (``# syntax=``, ``# escape=``) are read only from the
   leading comment lines. The escape character at the end of a line continues it;
   comment lines and blank lines inside a continuation are skipped (BuildKit warns
   about the blank ones, see `Dockerfile.warnings`). Each logical line is split into
   the instruction, its ``--flags`` and the rest, which is parsed by the
   instruction's rule: exec form (a JSON array of strings; anything that is not
   valid JSON falls back to shell form), key=value pairs (ENV, LABEL, ARG; ENV and
   LABEL also take the legacy ``ENV key value``), or plain text. RUN, COPY and ADD
   in shell form may carry heredocs (``<<EOF`` ... ``EOF``).
2. **Instructions.** Each is checked (argument counts, allowed flags, FROM's
   ``AS name``, HEALTHCHECK's options, ONBUILD's trigger) and placed: ARGs before the
   first FROM are meta args (usable in FROM), then one `Stage` per FROM.

Nothing is expanded here: arguments, pair keys and values keep their quotes, escapes
and ``$VARS``, because their values depend on the build's ARGs and ENVs at the
moment the instruction runs. The builder expands them with `dockyard.build.words`:

=================================  ==============================================
instruction                        how the builder expands it
=================================  ==============================================
ENV, LABEL (`pairs`)               `expand` on each key and each value
ARG (`pairs`)                      `expand` on each key and default
WORKDIR, USER, STOPSIGNAL          `expand(args[0])` (one value, spaces and all)
COPY, ADD (shell form)             `expand` on each of `words` (the last is the
                                   destination); exec form: `expand` on each arg
COPY/ADD --chown/--chmod/--checksum  `expand`; ``--from`` is not expanded
VOLUME                             `expand` on each of `words` (or each JSON arg)
EXPOSE                             `expand_words` on each of `words`
FROM (`Stage.base`, ``--platform``)  `expand` with the meta args only
RUN, CMD, ENTRYPOINT, SHELL        not expanded (the shell does it); exec form
                                   verbatim
HEALTHCHECK                        not expanded; `Instruction.healthcheck` is the
                                   image config's ``Healthcheck`` value
=================================  ==============================================

Errors are `DockerfileError`, naming the file and line: ``Dockerfile:7: unknown
instruction: FOO``.
"""

from __future__ import annotations

import json as _json
import re
from dataclasses import dataclass, field

from ..errors import InvalidArgument

__all__ = [
    "DockerfileError", "Instruction", "Stage", "Dockerfile", "Heredoc", "Flags",
    "parse", "parse_line", "stage_index", "find_stage", "run_script", "INSTRUCTIONS",
]

INSTRUCTIONS = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
    "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
    "WORKDIR",
})


class DockerfileError(InvalidArgument):
    """A Dockerfile that cannot be parsed or built as written.

    ``str(e)`` is ``Dockerfile:7: unknown instruction: FOO`` when the line is known.
    `docker build` exits 1 for these, so `status` is 1 (not InvalidArgument's 125).
    """

    status = 1

    def __init__(self, message: str, line: int | None = None, *,
                 filename: str | None = None, end_line: int | None = None) -> None:
        self.reason = message
        self.line = line
        self.end_line = end_line if end_line is not None else line
        self.filename = filename
        super().__init__(self._format())

    def _format(self) -> str:
        if self.line is not None:
            return f"{self.filename or 'Dockerfile'}:{self.line}: {self.reason}"
        if self.filename:
            return f"{self.filename}: {self.reason}"
        return self.reason

    def at(self, line: int | None, filename: str | None = None,
           end_line: int | None = None) -> "DockerfileError":
        """This error placed at `line` of `filename`, unless it already has a line."""
        if self.line is not None:
            return self
        return type(self)(self.reason, line, filename=filename or self.filename,
                          end_line=end_line)


class Flags(dict):
    """An instruction's ``--flags`` by name without the dashes (``flags["from"]``).

    Looking up ``"--from"`` works too. String flags map to their text, boolean flags
    (``--link``) to ``"true"`` or ``"false"``, repeatable ones (``--mount``,
    ``--exclude``, ``--device``) to a list. Only flags that were given are present.
    """

    @staticmethod
    def _key(key):
        return key[2:] if isinstance(key, str) and key.startswith("--") else key

    def __getitem__(self, key):
        return super().__getitem__(self._key(key))

    def __contains__(self, key) -> bool:
        return super().__contains__(self._key(key))

    def get(self, key, default=None):
        return super().get(self._key(key), default)

    def is_true(self, key) -> bool:
        """Whether a boolean flag was given and not set to false."""
        return self.get(key) == "true"


class Heredoc(tuple):
    """One heredoc of RUN/COPY/ADD: a ``(name, content)`` pair with more attributes.

    `content` is what the document holds, leading tabs already removed for ``<<-``;
    `raw` is as written. `expand` is false when the delimiter was quoted (``<<'EOF'``):
    a COPY/ADD then writes the content verbatim, else through
    `words.expand_heredoc`. `fd` is the descriptor for ``3<<EOF`` (0 when none).
    """

    name: str
    content: str
    raw: str
    expand: bool
    chomp: bool
    fd: int

    def __new__(cls, name: str, raw: str, *, expand: bool = True, chomp: bool = False,
                fd: int = 0) -> "Heredoc":
        content = _chomp(raw) if chomp else raw
        self = super().__new__(cls, (name, content))
        self.name, self.content, self.raw = name, content, raw
        self.expand, self.chomp, self.fd = expand, chomp, fd
        return self

    def __repr__(self) -> str:
        return (f"Heredoc(name={self.name!r}, content={self.content!r}, expand={self.expand}, "
                f"chomp={self.chomp}, fd={self.fd})")


@dataclass(frozen=True)
class Instruction:
    """One instruction as written, checked but not expanded.

    `args`: for exec form (``json`` true) the JSON list; for shell form a one-element
    list holding the text after the flags (continuations joined, comments removed),
    or an empty list when there is none (``RUN`` alone). HEALTHCHECK is the exception:
    ``["NONE"]`` or ``["CMD", ...]`` where ``...`` is the JSON list or the one text.
    ONBUILD: ``[trigger text]``, to be parsed with `parse_line` when it fires.

    `words`: the arguments split the way BuildKit's parser splits them before
    expansion: on white space for COPY, ADD, VOLUME, EXPOSE and FROM in shell form,
    shell-like words (quotes kept) for ARG, the JSON list in exec form, else `args`.

    `pairs`: ENV/LABEL/ARG ``(key, value)`` with quotes and variables still in
    (``ENV A="x y"`` gives ``("A", '"x y"')``); an ARG without a default has None.

    `original`: the instruction's text, continuations joined, trimmed; `line` and
    `end_line` are 1-based and include continuation and heredoc lines.
    """

    cmd: str
    args: list[str]
    json: bool
    flags: Flags
    pairs: list[tuple[str, str | None]]
    line: int
    end_line: int
    original: str
    heredocs: list[Heredoc] = ()  # type: ignore[assignment]
    words: list[str] = ()  # type: ignore[assignment]
    healthcheck: dict | None = None

    def __str__(self) -> str:
        return self.original

    def heredoc(self, word: str) -> Heredoc | None:
        """The heredoc a COPY/ADD source word such as ``<<EOF`` stands for, else None.

        Those sources are files made from the document, named after it (`Heredoc.name`).
        """
        found = _parse_heredoc(word, strict=False) if self.heredocs else None
        if found is None:
            return None
        for heredoc in self.heredocs:
            if heredoc.name == found[0]:
                return heredoc
        return None


@dataclass
class Stage:
    """One build stage: a FROM and the instructions after it."""

    name: str | None
    base: str
    platform: str | None
    index: int
    instructions: list[Instruction]
    line: int = 0
    from_instruction: Instruction | None = None


@dataclass
class Dockerfile:
    meta_args: list[Instruction]
    stages: list[Stage]
    escape: str = "\\"
    syntax: str | None = None
    filename: str = "Dockerfile"
    warnings: list[str] = field(default_factory=list)


# -- lines ------------------------------------------------------------------------

# Go's unicode.IsSpace set; str.isspace() also takes \x1c-\x1f, which Go does not.
_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007" \
         "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_SPACE_SET = frozenset(_SPACE)
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_DIRECTIVE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z", re.S)
_HEREDOC = re.compile(r"(\d*)<<(-?)[\t\n\f\r ]*([^<]*)\Z", re.S)
_STAGE_NAME = re.compile(r"[a-z][a-z0-9\-_.]*\Z")
_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
_DIRECTIVES = ("syntax", "escape", "check")


def _chomp(text: str) -> str:
    """Remove leading tabs from every line (``<<-``)."""
    return re.sub(r"(?m)^\t+", "", text)


def _split_lines(text: str) -> list[str]:
    """Lines with their newline kept, as bufio.Scanner with BuildKit's scanLines."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _is_comment(line: str) -> bool:
    return line.lstrip(_SPACE).startswith("#")


class _Directives:
    """Parser directives, read from the leading comment lines only."""

    def __init__(self, enabled: bool, escape: str = "\\", filename: str | None = None) -> None:
        self.done = not enabled
        self.filename = filename
        self.seen: dict[str, str] = {}
        self.escape = escape

    def check(self, line: str, lineno: int) -> None:
        if self.done:
            return
        if not line.startswith("#"):
            self.done = True
            return
        m = _DIRECTIVE.match(line[1:].lstrip(_SPACE))
        if not m or m.group(1).lower() not in _DIRECTIVES:
            self.done = True
            return
        key, value = m.group(1).lower(), m.group(2)
        if key in self.seen:
            raise DockerfileError(f"only one {key} parser directive can be used", lineno,
                                  filename=self.filename)
        self.seen[key] = value
        if key == "escape":
            if value not in ("`", "\\"):
                raise DockerfileError(f"invalid escape token '{value}' does not match ` or \\",
                                      lineno, filename=self.filename)
            self.escape = value

    def trim_continuation(self, line: str) -> tuple[str, bool]:
        """(line without a trailing continuation, whether the logical line ends here)."""
        body = line.rstrip(" \t")
        esc = self.escape
        if body.endswith(esc) and (len(body) == 1 or body[-2] != esc):
            return body[:-1], False
        return line, True


@dataclass
class _Node:
    """One logical line, split but not yet checked (BuildKit's AST node)."""

    cmd: str
    flags: list[str]
    args: list[str]
    json: bool
    original: str
    rest: str
    pairs: list[tuple[str, str | None]] | None = None
    sub: "_Node | None" = None
    heredocs: list[Heredoc] = field(default_factory=list)
    start: int = 0
    end: int = 0

    def can_contain_heredoc(self) -> bool:
        node = self
        if node.cmd.lower() == "onbuild" and node.sub is not None:
            node = node.sub
        return node.cmd.lower() in ("run", "copy", "add") and not node.json


def _scan(text: str, directives: _Directives, filename: str | None,
          warnings: list[str]) -> list[_Node]:
    lines = _split_lines(text)
    nodes: list[_Node] = []
    current = 0
    i, n = 0, len(lines)

    def fail(message: str, start: int, end: int | None = None) -> DockerfileError:
        return DockerfileError(message, start, filename=filename, end_line=end)

    while i < n:
        raw = lines[i]
        i += 1
        if current == 0:
            raw = raw.removeprefix("\ufeff")
        line = raw.rstrip("\r\n").lstrip(_SPACE)
        directives.check(line, current + 1)
        if line.startswith("#"):
            line = ""
        current += 1
        start = current
        line, ended = directives.trim_continuation(line)
        if ended and not line:
            continue
        parts = [line]
        empty_continuation = False
        while not ended and i < n:
            raw = lines[i]
            i += 1
            line = raw.rstrip("\r\n")
            directives.check(line, current + 1)
            current += 1
            if _is_comment(raw):
                continue
            if not line.lstrip(_SPACE):
                empty_continuation = True
                continue
            line, ended = directives.trim_continuation(line)
            parts.append(line)
        joined = "".join(parts)
        if empty_continuation:
            warnings.append(f"Empty continuation line found in: {joined}")
        try:
            node = _node_from_line(joined, directives.escape)
        except DockerfileError as e:
            raise fail(e.reason, start, current) from None
        if node.can_contain_heredoc() and "<<" in joined:
            from .words import _heredoc_words

            for word in _heredoc_words(joined):
                try:
                    found = _parse_heredoc(word)
                except DockerfileError as e:
                    raise fail(e.reason, start, current) from None
                if found is None:
                    continue
                name, expand, chomp, fd = found
                body: list[str] = []
                terminated = False
                while i < n:
                    raw = lines[i]
                    i += 1
                    current += 1
                    candidate = raw.rstrip("\r\n")
                    if chomp:
                        candidate = candidate.lstrip("\t")
                    if candidate == name:
                        terminated = True
                        break
                    body.append(raw)
                if not terminated:
                    raise fail("unterminated heredoc", start, current)
                node.heredocs.append(Heredoc(name, "".join(body), expand=expand, chomp=chomp, fd=fd))
        node.start, node.end = start, current
        nodes.append(node)
    if not nodes:
        raise fail("file with no instructions", current or None)
    return nodes


def _parse_heredoc(word: str, strict: bool = True) -> tuple[str, bool, bool, int] | None:
    """(name, expand, chomp, fd) when `word` is a heredoc marker like ``<<-"EOF"``.

    With `strict` false a word that cannot be lexed is simply not a heredoc.
    """
    m = _HEREDOC.match(word)
    if not m or not m.group(3):
        return None
    from .words import _heredoc_word

    try:
        found = _heredoc_word(m.group(3))
    except DockerfileError:
        if strict:
            raise
        return None
    if found is None:
        return None
    name, expand = found
    return name, expand, m.group(2) == "-", int(m.group(1) or 0)


# -- one logical line -----------------------------------------------------------------

def _split_command(line: str, escape: str) -> tuple[str, list[str], str]:
    parts = _WHITESPACE.split(line.strip(_SPACE), maxsplit=1)
    if len(parts) < 2:
        return parts[0], [], ""
    rest, flags = _extract_flags(parts[1], escape)
    return parts[0], flags, rest.strip(_SPACE)


def _extract_flags(line: str, escape: str) -> tuple[str, list[str]]:
    """Leading ``--flag[=value]`` words (quotes and escapes honoured) and the rest."""
    words: list[str] = []
    pos, n = 0, len(line)
    while True:
        while pos < n and line[pos] in _SPACE_SET:
            pos += 1
        if pos == n:
            return "", words
        if not line.startswith("--", pos):
            return line[pos:], words
        word: list[str] = []
        quote = None
        quoted = False
        while pos < n:
            ch = line[pos]
            if quote is None:
                if ch in _SPACE_SET:
                    break
                if ch in "'\"":
                    quote, quoted = ch, True
                    pos += 1
                    continue
            elif ch == quote:
                quote = None
                pos += 1
                continue
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue  # an escape at the end is dropped
                pos += 1
                ch = line[pos]
            word.append(ch)
            pos += 1
        text = "".join(word)
        if text == "--":
            return (line[pos:] if pos < n else ""), words
        if quoted or text:
            words.append(text)


def _parse_json(rest: str) -> list[str] | None:
    """The JSON array of strings in `rest`, or None when it is not valid JSON (shell form)."""
    rest = rest.lstrip(_SPACE)
    if not rest.startswith("["):
        return None

    def no_constants(name):
        raise ValueError(name)

    try:
        value = _json.loads(rest, parse_constant=no_constants)
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) for v in value):
        raise DockerfileError("when using JSON array syntax, arrays must be comprised of strings only")
    return value


def _parse_words(rest: str, escape: str) -> list[str]:
    """Shell-like words with their quotes and escapes kept (for ENV/LABEL/ARG)."""
    words: list[str] = []
    word: list[str] = []
    blank_ok = False
    in_word = False
    quote = None
    pos, n = 0, len(rest)
    while pos < n:
        ch = rest[pos]
        if not in_word:
            if ch in _SPACE_SET:
                pos += 1
                continue
            in_word = True
        if quote is None:
            if ch in _SPACE_SET:
                if blank_ok or word:
                    words.append("".join(word))
                word, blank_ok, in_word = [], False, False
                pos += 1
                continue
            if ch in "'\"":
                quote, blank_ok = ch, True
            elif ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue
                word.append(ch)
                pos += 1
                ch = rest[pos]
            word.append(ch)
            pos += 1
            continue
        # inside quotes
        if ch == quote:
            quote = None
        elif ch == escape and quote != "'":
            if pos + 1 == n:
                quote = None
                pos += 1
                continue
            word.append(ch)
            pos += 1
            ch = rest[pos]
        word.append(ch)
        pos += 1
    if in_word and (blank_ok or word):
        words.append("".join(word))
    return words


def _parse_name_val(rest: str, cmd: str, escape: str) -> list[tuple[str, str | None]]:
    words = _parse_words(rest, escape)
    if not words:
        return []
    if "=" not in words[0]:
        # the legacy form: `ENV key the rest of the line`
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise DockerfileError(f"{cmd} must have two arguments")
        return [(parts[0], parts[1])]
    pairs = []
    for word in words:
        if "=" not in word:
            raise DockerfileError(f"Syntax error - can't find = in {_goquote(word)}. "
                                  "Must be of the form: name=value")
        key, _, value = word.partition("=")
        pairs.append((key, value))
    return pairs


def _node_from_line(line: str, escape: str) -> _Node:
    cmd, flags, rest = _split_command(line, escape)
    lc = cmd.lower()
    node = _Node(cmd=cmd, flags=flags, args=[], json=False, original=line, rest=rest)
    if lc in ("run", "cmd", "entrypoint", "shell"):
        if rest:
            value = _parse_json(rest)
            node.args, node.json = ([rest], False) if value is None else (value, True)
    elif lc in ("add", "copy", "volume"):
        value = _parse_json(rest)
        if value is not None:
            node.args, node.json = value, True
        elif rest:
            node.args = _WHITESPACE.split(rest)
    elif lc in ("expose", "from"):
        if rest:
            node.args = _WHITESPACE.split(rest)
    elif lc in ("maintainer", "stopsignal", "user", "workdir"):
        if rest:
            node.args = [rest]
    elif lc in ("env", "label"):
        node.pairs = _parse_name_val(rest, cmd.upper() if lc == "env" else "LABEL", escape)
    elif lc == "arg":
        node.args = _parse_words(rest, escape)
    elif lc == "healthcheck":
        head = rest.split(None, 1) if rest else []
        if head:
            kind = head[0]
            tail = head[1].lstrip() if len(head) > 1 else ""
            value = _parse_json(tail) if tail else None
            if value is not None:
                node.args, node.json = [kind, *value], True
            else:
                node.args = [kind, tail] if tail else [kind]
    elif lc == "onbuild":
        if rest:
            node.sub = _node_from_line(rest, escape)
            node.args = [node.sub.cmd]
    return node


# -- instructions ---------------------------------------------------------------------

_S, _B, _L = "string", "bool", "strings"
_FLAG_SPECS: dict[str, dict[str, str]] = {
    "ADD": {"chown": _S, "chmod": _S, "link": _B, "keep-git-dir": _B, "checksum": _S,
            "unpack": _B, "exclude": _L},
    "COPY": {"chown": _S, "from": _S, "chmod": _S, "link": _B, "exclude": _L, "parents": _B},
    "FROM": {"platform": _S},
    "RUN": {"mount": _L, "network": _S, "security": _S, "device": _L},
    "HEALTHCHECK": {"interval": _S, "timeout": _S, "start-period": _S, "start-interval": _S,
                    "retries": _S},
}


def _parse_flags(cmd: str, raw: list[str]) -> Flags:
    spec = _FLAG_SPECS.get(cmd, {})
    flags = Flags()
    for word in raw:
        if word == "--":
            break
        if not word.startswith("--"):
            raise DockerfileError(f"arg should start with -- : {word}")
        name, has_value, value = word.partition("=")
        key = name[2:]
        kind = spec.get(key)
        if kind is None:
            raise DockerfileError(_did_you_mean(f"unknown flag: {name}", key, spec, case_sensitive=True))
        if key in flags and kind != _L:
            raise DockerfileError(f"duplicate flag specified: {name}")
        if kind == _B:
            if has_value and value == "":
                raise DockerfileError(f"missing a value on flag: {name}")
            low = value.lower()
            if low not in ("true", "", "false"):
                raise DockerfileError(f"expecting boolean value for flag {name}, not: {value}")
            flags[key] = "false" if low == "false" else "true"
        else:
            if not has_value:
                raise DockerfileError(f"missing a value on flag: {name}")
            if kind == _L:
                flags.setdefault(key, []).append(value)
            else:
                flags[key] = value
    return flags


_DURATION_UNITS = {"ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000,
                   "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([^0-9.]*)")


def go_duration(text: str) -> int:
    """Nanoseconds in a Go duration (``1m30s``, ``500ms``), as time.ParseDuration reads it."""
    quoted = _goquote(text)
    s = text
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f"time: invalid duration {quoted}")
    total = 0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        number, unit = m.group(1), m.group(2)
        if number in ("", "."):
            raise ValueError(f"time: invalid duration {quoted}")
        if not unit:
            raise ValueError(f"time: missing unit in duration {quoted}")
        if unit not in _DURATION_UNITS:
            raise ValueError(f"time: unknown unit {_goquote(unit)} in duration {quoted}")
        whole, _, frac = number.partition(".")
        scale = _DURATION_UNITS[unit]
        total += int(whole or 0) * scale
        if frac:
            total += int(frac) * scale // (10 ** len(frac))
        if total > (1 << 63) - 1:
            raise ValueError(f"time: invalid duration {quoted}")
        pos = m.end()
    return sign * total


def _goquote(text: str) -> str:
    return _json.dumps(text, ensure_ascii=False)


def _healthcheck(node: _Node, flags: Flags) -> dict:
    kind = node.args[0].upper()
    config: dict = {}
    if kind != "CMD":
        raise DockerfileError(f"Unknown type {_goquote(kind)} in HEALTHCHECK (try CMD)")
    command = node.args[1:]
    if not command:
        raise DockerfileError("Missing command after HEALTHCHECK CMD")
    config["Test"] = ["CMD", *command] if node.json else ["CMD-SHELL", *command]
    for flag, key in (("interval", "Interval"), ("timeout", "Timeout"),
                      ("start-period", "StartPeriod"), ("start-interval", "StartInterval")):
        text = flags.get(flag, "")
        if not text:
            continue
        try:
            value = go_duration(text)
        except ValueError as e:
            raise DockerfileError(str(e)) from None
        if value == 0:
            continue
        if value < 1_000_000:
            raise DockerfileError(f"Interval {_goquote(flag)} cannot be less than 1ms")
        config[key] = value
    retries = flags.get("retries", "")
    if retries:
        if not _INTEGER.match(retries):
            raise DockerfileError(f"strconv.ParseInt: parsing {_goquote(retries)}: invalid syntax")
        if not -(1 << 31) <= int(retries) < (1 << 31):
            raise DockerfileError(f"strconv.ParseInt: parsing {_goquote(retries)}: value out of range")
        if int(retries) < 0:
            raise DockerfileError(f"--retries cannot be negative ({int(retries)})")
        if int(retries):
            config["Retries"] = int(retries)
    return config


def _distance(a: str, b: str) -> int:
    """Levenshtein distance."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def _did_you_mean(message: str, value: str, options, case_sensitive: bool) -> str:
    """`message` with BuildKit's hint for a near miss: `` (did you mean RUN?)``."""
    wanted = value if case_sensitive else value.lower()
    best, best_distance = "", 3
    for option in sorted(options):
        option = option if case_sensitive else option.lower()
        if option == wanted:
            return message
        distance = _distance(wanted, option)
        if distance < best_distance:
            best, best_distance = option, distance
    if not best:
        return message
    if not case_sensitive:
        if value == value.upper():
            best = best.upper()
    return f"{message} (did you mean {best}?)"


def _exactly_one(cmd: str, node: _Node) -> None:
    if len(node.args) != 1:
        raise DockerfileError(f"{cmd} requires exactly one argument")


def _at_least_one(cmd: str) -> DockerfileError:
    return DockerfileError(f"{cmd} requires at least one argument")


def _instruction(node: _Node) -> Instruction:
    """Check one node and make it an Instruction (BuildKit's instructions.Parse*)."""
    cmd = node.cmd.upper()
    if cmd not in INSTRUCTIONS:
        raise DockerfileError(_did_you_mean(f"unknown instruction: {node.cmd}", node.cmd,
                                            INSTRUCTIONS, case_sensitive=False))
    flags = Flags()
    pairs: list[tuple[str, str | None]] = []
    words = list(node.args)
    args = list(node.args) if node.json else ([node.rest] if node.rest else [])
    health = None

    if cmd in ("ADD", "COPY"):
        if len(node.args) < 2:
            raise DockerfileError(f"{cmd} requires at least two arguments, but only one was "
                                  "provided. Destination could not be determined")
        flags = _parse_flags(cmd, node.flags)
        if _parse_heredoc(node.args[-1], strict=False) is not None:
            raise DockerfileError(f"{cmd} cannot accept a heredoc as a destination")
    elif cmd == "FROM":
        a = node.args
        if len(a) == 3 and a[1].lower() == "as":
            if not _STAGE_NAME.match(a[2].lower()):
                raise DockerfileError(f"invalid name for build stage: {_goquote(a[2])}, "
                                      "name can't start with a number or contain symbols")
        elif len(a) != 1:
            raise DockerfileError("FROM requires either one or three arguments")
        flags = _parse_flags(cmd, node.flags)
    elif cmd in ("ENV", "LABEL"):
        flags = _parse_flags(cmd, node.flags)
        pairs = list(node.pairs or [])
        if not pairs:
            raise _at_least_one(cmd)
        if any(key == "" for key, _ in pairs):
            raise DockerfileError(f"{cmd} names can not be blank")
        words = args
    elif cmd == "ARG":
        if not node.args:
            raise _at_least_one(cmd)
        for word in node.args:
            if "=" in word:
                key, _, value = word.partition("=")
                if not key:
                    raise DockerfileError("ARG names can not be blank")
                pairs.append((key, value))
            else:
                pairs.append((word, None))
    elif cmd in ("MAINTAINER", "WORKDIR", "USER"):
        _exactly_one(cmd, node)
        flags = _parse_flags(cmd, node.flags)
    elif cmd == "STOPSIGNAL":
        _exactly_one(cmd, node)
    elif cmd in ("RUN", "CMD", "ENTRYPOINT"):
        flags = _parse_flags(cmd, node.flags)
    elif cmd == "SHELL":
        flags = _parse_flags(cmd, node.flags)
        if not node.args:
            raise _at_least_one(cmd)
        if not node.json:
            raise DockerfileError("SHELL requires the arguments to be in JSON form")
    elif cmd == "EXPOSE":
        if not node.args:
            raise _at_least_one(cmd)
        flags = _parse_flags(cmd, node.flags)
    elif cmd == "VOLUME":
        if not node.args:
            raise _at_least_one(cmd)
        flags = _parse_flags(cmd, node.flags)
        if any(not v.strip(_SPACE) for v in node.args):
            raise DockerfileError("VOLUME specified can not be an empty string")
    elif cmd == "HEALTHCHECK":
        if not node.args:
            raise _at_least_one(cmd)
        args = list(node.args)
        if node.args[0].upper() == "NONE":
            if len(node.args) != 1:
                raise DockerfileError("HEALTHCHECK NONE takes no arguments")
            health = {"Test": ["NONE"]}
        else:
            flags = _parse_flags(cmd, node.flags)
            health = _healthcheck(node, flags)
    elif cmd == "ONBUILD":
        if node.sub is None:
            raise _at_least_one(cmd)
        flags = _parse_flags(cmd, node.flags)
        trigger = node.sub.cmd.upper()
        if trigger == "ONBUILD":
            raise DockerfileError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("MAINTAINER", "FROM"):
            raise DockerfileError(f"{trigger} isn't allowed as an ONBUILD trigger")
        expression = re.sub(r"(?i)^[\t\n\v\f\r ]*ONBUILD[\t\n\v\f\r ]*", "", node.original, count=1)
        for heredoc in node.heredocs:
            expression += "\n" + heredoc.raw + heredoc.name
        args = words = [expression]

    return Instruction(cmd=cmd, args=args, json=node.json, flags=flags, pairs=pairs,
                       line=node.start, end_line=node.end, original=node.original.strip(_SPACE),
                       heredocs=list(node.heredocs), words=words, healthcheck=health)


# -- the public API ---------------------------------------------------------------------

def parse(text: str | bytes, filename: str = "Dockerfile") -> Dockerfile:
    """Parse a whole Dockerfile; raises DockerfileError naming the line."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    directives = _Directives(enabled=True, filename=filename)
    warnings: list[str] = []
    nodes = _scan(text, directives, filename, warnings)
    meta_args: list[Instruction] = []
    stages: list[Stage] = []
    for node in nodes:
        try:
            ins = _instruction(node)
        except DockerfileError as e:
            raise e.at(node.start, filename, node.end) from None
        if ins.cmd == "FROM":
            a = node.args
            stages.append(Stage(
                name=a[2].lower() if len(a) == 3 else None, base=a[0],
                platform=ins.flags.get("platform"), index=len(stages), instructions=[],
                line=ins.line, from_instruction=ins))
        elif not stages:
            if ins.cmd != "ARG":
                raise DockerfileError("no build stage in current context", node.start,
                                      filename=filename, end_line=node.end)
            meta_args.append(ins)
        else:
            stages[-1].instructions.append(ins)
        if ins.cmd == "MAINTAINER":
            warnings.append(f"{filename}:{ins.line}: MAINTAINER instruction is deprecated "
                            "in favor of using label")
    if not stages:
        raise DockerfileError("dockerfile contains no stages to build", filename=filename)
    return Dockerfile(meta_args=meta_args, stages=stages, escape=directives.escape,
                      syntax=directives.seen.get("syntax"), filename=filename,
                      warnings=warnings)


def parse_line(text: str, escape: str = "\\", *, filename: str | None = None) -> Instruction:
    """Parse one instruction (an ONBUILD trigger, a `commit --change`).

    `text` may span lines (continuations, heredoc bodies); it must hold exactly one
    instruction. No parser directives are read and no FROM is needed.
    """
    nodes = _scan(text, _Directives(enabled=False, escape=escape), filename, [])
    if len(nodes) != 1:
        raise DockerfileError(f"expected one instruction, found {len(nodes)}", nodes[1].start,
                              filename=filename)
    try:
        return _instruction(nodes[0])
    except DockerfileError as e:
        raise e.at(nodes[0].start, filename, nodes[0].end) from None


def find_stage(df: Dockerfile, name_or_index: str) -> int | None:
    """The index of the stage `name_or_index` names, or None when no stage has that name.

    A number is a stage index (an error when out of range); a name is matched without
    regard to case, the last stage of that name winning as in BuildKit. For
    ``COPY --from=x`` None means `x` is an image reference.
    """
    if _INTEGER.match(name_or_index):
        index = int(name_or_index)
        if not 0 <= index < len(df.stages):
            raise DockerfileError(f"invalid stage index {index}")
        return index
    wanted = name_or_index.lower()
    for stage in reversed(df.stages):
        if stage.name == wanted:
            return stage.index
    return None


def stage_index(df: Dockerfile, name_or_index: str) -> int:
    """The index of a stage named or numbered `name_or_index` (``--target``, ``--from``)."""
    index = find_stage(df, name_or_index)
    if index is None:
        raise DockerfileError(f"target stage {_goquote(name_or_index)} could not be found")
    return index


def run_script(ins: Instruction) -> tuple[str, Heredoc | None]:
    """The shell command of a shell-form RUN, its heredocs folded in as BuildKit does.

    Returns ``(command, script)``. Without heredocs the command is ``args[0]``. For
    ``RUN <<EOF`` alone the command is the document itself; if the document starts
    with ``#!`` it is instead a script to run as a file: `script` is that heredoc,
    which the builder must provide as an executable ``/dev/pipes/<name>``, and the
    command is that path. Otherwise (``RUN python3 <<EOF``) the heredocs are appended
    to the command line for the shell to read.
    """
    if ins.json:
        raise ValueError("run_script needs a shell-form RUN")
    command = ins.args[0] if ins.args else ""
    if not ins.heredocs:
        return command, None
    first = ins.heredocs[0]
    if _parse_heredoc(command, strict=False) is not None:
        if first.content.startswith("#!"):
            return "/dev/pipes/" + first.name, first
        return first.content, None
    for heredoc in ins.heredocs:
        command += "\n" + heredoc.raw + heredoc.name
    return command, None
