"""Variable expansion and word splitting, as BuildKit's Dockerfile shell lexer does them.

The builder calls these with the build's environment (ARGs and ENVs in force) at the
moment an instruction runs:

- `expand(word, env)` is BuildKit's ``ProcessWord``: one string out, quotes removed,
  escapes applied, ``$VAR`` substituted. ENV/LABEL/ARG keys and values, WORKDIR, USER,
  STOPSIGNAL, FROM's image, COPY/ADD sources, destination and flags take this.
- `expand_words(text, env)` is ``ProcessWords``: the same, then split on unquoted white
  space (a substituted value is split too; a quoted one is not). EXPOSE takes this.

Supported, as in BuildKit: ``$VAR``, ``${VAR}``, ``${VAR:-word}``, ``${VAR-word}``,
``${VAR:+word}``, ``${VAR+word}``, ``${VAR:?msg}``, ``${VAR?msg}``, ``${VAR#pat}``,
``${VAR##pat}``, ``${VAR%pat}``, ``${VAR%%pat}``, ``${VAR/pat/repl}``,
``${VAR//pat/repl}``; the word of a modifier is itself expanded, so defaults nest
(``${A:-${B:-x}}``). ``'...'`` is literal, ``"..."`` expands ``$`` and lets the escape
character escape only ``"``, ``$`` and itself; outside quotes the escape character
makes the next character literal. An unset variable expands to the empty string;
positional and special parameters (``$1``, ``$@``, ``$$``...) are never set.

Errors (unterminated quotes, ``${}``, ``${A:?}`` on an unset A...) raise
`DockerfileError` without a line: the caller knows the instruction and fills it in
with `DockerfileError.at`.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["expand", "expand_words", "expand_heredoc"]

# Go's unicode.IsSpace: what BuildKit splits words on (str.isspace also takes \x1c-\x1f).
_SPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                   "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
# POSIX special parameters: `$@`, `${#}`... (never set in a Dockerfile).
_SPECIAL_PARAMS = frozenset("@*#?-$!0")


def _fail(message: str):
    from .dockerfile import DockerfileError

    return DockerfileError(message)


class _SyntaxError(Exception):
    """Raised inside the lexer; turned into a DockerfileError naming the whole word."""


class _Words:
    """Accumulates the words of `expand_words`: white space splits, quoted text does not."""

    __slots__ = ("buf", "words", "in_word")

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch in _SPACE:
            if self.in_word and self.buf:
                self.words.append("".join(self.buf))
                self.buf.clear()
                self.in_word = False
        else:
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.buf.append(ch)
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw_string(self, text: str) -> None:
        if text:
            self.buf.append(text)  # buf holds no empty strings: `if self.buf` means "has text"
        self.in_word = True

    def finish(self) -> list[str]:
        if self.buf:
            self.words.append("".join(self.buf))
            self.buf.clear()
            self.in_word = False
        return self.words


class _Lexer:
    """One pass over one word. Mirrors the states of BuildKit's shell.Lex."""

    def __init__(self, text: str, env: Mapping[str, str], escape: str, *,
                 raw_quotes: bool = False, raw_escapes: bool = False,
                 skip_unset: bool = False, process_quotes: bool = True) -> None:
        self.text = text
        self.pos = 0
        self.env = env
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset = skip_unset
        self.process_quotes = process_quotes

    # -- scanner ------------------------------------------------------------------
    def peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def next(self) -> str | None:
        if self.pos < len(self.text):
            ch = self.text[self.pos]
            self.pos += 1
            return ch
        return None

    # -- the main loop ------------------------------------------------------------
    def run(self, stop: str | None, raw_escapes: bool) -> tuple[str, list[str]]:
        """Process up to `stop` (consumed) or the end; returns (word, words)."""
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._run(stop)
        finally:
            self.raw_escapes = saved

    def _run(self, stop: str | None) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        esc = self.escape
        while (ch := self.peek()) is not None:
            if stop is not None and ch == stop:
                self.pos += 1
                return "".join(result), words.finish()
            if ch == "$":
                value = self.dollar()
                result.append(value)
                words.add_string(value)  # a substituted value is split on white space
            elif ch == "<":
                value = self.possible_heredoc()
                result.append(value)
                words.add_raw_string(value)
            elif self.process_quotes and ch in "'\"":
                value = self.single_quote() if ch == "'" else self.double_quote()
                result.append(value)
                words.add_raw_string(value)
            else:
                self.pos += 1
                if ch == esc:
                    if self.raw_escapes:
                        words.add_raw_char(ch)
                        result.append(ch)
                    ch = self.next()  # the escape makes the next character literal
                    if ch is None:
                        break  # an escape at the very end is dropped
                    words.add_raw_char(ch)
                else:
                    words.add_char(ch)
                result.append(ch)
        if stop is not None:
            raise _SyntaxError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.finish()

    def single_quote(self) -> str:
        # Everything up to the next ' is literal; a ' cannot be escaped inside.
        out: list[str] = []
        opening = self.next()
        if self.raw_quotes:
            out.append(opening)
        while True:
            ch = self.next()
            if ch is None:
                raise _SyntaxError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def double_quote(self) -> str:
        # Literal except $ (expanded) and the escape, which escapes only " $ and itself.
        out: list[str] = []
        opening = self.next()
        if self.raw_quotes:
            out.append(opening)
        esc = self.escape
        while True:
            ch = self.peek()
            if ch is None:
                raise _SyntaxError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.pos += 1
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            self.pos += 1
            if ch == esc:
                if self.raw_escapes:
                    out.append(ch)
                nxt = self.peek()
                if nxt is None:
                    continue  # an escape before the end of the word is dropped
                if nxt in ('"', "$", esc):
                    ch = self.next()
            out.append(ch)

    def possible_heredoc(self) -> str:
        # `<<` and the blanks after it stay together in one word (heredoc markers).
        self.pos += 1
        if self.peek() != "<":
            return "<"
        self.pos += 1
        start = self.pos
        while self.peek() in ("\t", "\r", " "):
            self.pos += 1
        return "<<" + self.text[start:self.pos]

    def name(self) -> str:
        """A variable name: letters, digits, _; or a run of digits; or one special char."""
        start = self.pos
        ch = self.peek()
        if ch is None:
            return ""
        if ch.isdecimal():
            while (c := self.peek()) is not None and c.isdecimal():
                self.pos += 1
            return self.text[start:self.pos]
        if ch in _SPECIAL_PARAMS:
            self.pos += 1
            return ch
        while (c := self.peek()) is not None and (c.isalpha() or c.isdecimal() or c == "_"):
            self.pos += 1
        return self.text[start:self.pos]

    def lookup(self, name: str) -> tuple[str, bool]:
        value = self.env.get(name)
        if value is None:
            return "", False
        return value, True

    def dollar(self) -> str:
        self.pos += 1  # the $
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"  # a lone $ is literal
            value, found = self.lookup(name)
            if not found and self.skip_unset:
                return "$" + name
            return value

        self.pos += 1  # the {
        ch = self.peek()
        if ch is None:
            raise _SyntaxError("syntax error: missing '}'")
        if ch in "{}:":
            raise _SyntaxError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch is None:
            raise _SyntaxError("syntax error: missing '}'")
        if ch == "}":
            value, found = self.lookup(name)
            if not found and self.skip_unset:
                return "${" + name + "}"
            return value
        if ch == "/":
            return self._replace(name)

        modifier = ch
        null_is_unset = False
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            modifier += ch or ""
        if ch not in ("+", "-", "?", "#", "%", None) and not null_is_unset:
            raise _SyntaxError(f"unsupported modifier ({modifier}) in substitution")
        pattern_like = ch in ("#", "%")
        if null_is_unset and pattern_like:
            raise _SyntaxError(f"unsupported modifier ({modifier}) in substitution")
        word = self._until("}", pattern_like, "syntax error: missing '}'")

        value, found = self.lookup(name)
        if self.skip_unset and not found:
            return "${" + name + modifier + word + "}"
        empty = null_is_unset and value == ""
        if ch == "-":
            return word if (not found or empty) else value
        if ch == "+":
            return "" if (not found or empty) else word
        if ch == "?":
            if not found:
                raise _SyntaxError(f"{name}: {word or 'is not allowed to be unset'}")
            if empty:
                raise _SyntaxError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if ch in ("#", "%"):
            greedy = word[:1] == ch
            if greedy:
                word = word[1:]
            if ch == "#":
                return _trim_prefix(word, value, greedy)
            return _trim_suffix(word, value, greedy)
        raise _SyntaxError(f"unsupported modifier ({modifier}) in substitution")

    def _until(self, stop: str, raw_escapes: bool, missing: str) -> str:
        """The word up to `stop`; `missing` is the error when the text ends first."""
        try:
            return self.run(stop, raw_escapes)[0]
        except _SyntaxError:
            if self.peek() is None:
                raise _SyntaxError(missing) from None
            raise

    def _replace(self, name: str) -> str:
        replace_all = self.peek() == "/"
        if replace_all:
            self.pos += 1
        pattern = self._until("/", True, "syntax error: missing '/' in ${}")
        replacement = self._until("}", True, "syntax error: missing '}'")
        value, found = self.lookup(name)
        if self.skip_unset and not found:
            return "${%s/%s/%s}" % (name, pattern, replacement)
        regex = _shell_pattern(pattern, greedy=True, anchored=False)
        if replace_all:
            return regex.sub(lambda _m: replacement, value)
        return regex.sub(lambda _m: replacement, value, count=1)


def _shell_pattern(pattern: str, greedy: bool, anchored: bool):
    """A ${VAR#pattern} pattern as a regex: `*` any string, `?` one char, `\\` escapes."""
    import re

    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(star)
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            nxt = pattern[i] if i < n else ""
            if nxt in ("}", "/"):
                continue  # escaped only to get past the ${...} syntax
            if nxt not in ("*", "?", "\\"):
                raise _SyntaxError(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{nxt}'")
            out.append(re.escape(nxt))
            i += 1
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out))


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    m = _shell_pattern(pattern, greedy, anchored=True).match(value)
    return value[m.end():] if m else value


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern keeping each escape before the character it escapes."""
    tokens: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern[i] == "\\" and i + 1 < n:
            tokens.append(pattern[i:i + 2])
            i += 2
        else:
            tokens.append(pattern[i])
            i += 1
    return "".join(reversed(tokens))


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # The shortest rightmost match is the shortest leftmost match of the reversed strings.
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


def _quote(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


def _process(text: str, env: Mapping[str, str], escape: str, **options) -> tuple[str, list[str]]:
    lexer = _Lexer(text, env, escape, **options)
    try:
        return lexer.run(None, lexer.raw_escapes)
    except _SyntaxError as e:
        raise _fail(f"failed to process {_quote(text)}: {e}") from None


def expand(word: str, env: Mapping[str, str], escape: str = "\\", *,
           process_quotes: bool = True) -> str:
    """`word` with its variables substituted, quotes removed and escapes applied.

    ``process_quotes=False`` leaves quote characters alone (BuildKit's treatment of
    the content of an unquoted-delimiter COPY/ADD heredoc; see `expand_heredoc`).
    """
    if "$" not in word and "'" not in word and '"' not in word and escape not in word:
        return word
    return _process(word, env, escape, process_quotes=process_quotes)[0]


def expand_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """`text` expanded like `expand`, then split into words on unquoted white space."""
    return _process(text, env, escape)[1]


def expand_heredoc(content: str, env: Mapping[str, str]) -> str:
    """The content of a COPY/ADD heredoc whose delimiter was not quoted.

    BuildKit substitutes variables in it with the default escape character and leaves
    quotes as they are (RUN heredocs are not expanded: the shell does that).
    """
    return expand(content, env, "\\", process_quotes=False)


def _heredoc_words(line: str) -> list[str]:
    """The words of an instruction line as BuildKit scans it for heredoc markers.

    A line the lexer cannot read (an unbalanced quote) simply has no heredocs.
    """
    try:
        return _Lexer(line, {}, "\\", raw_quotes=True, raw_escapes=True,
                      skip_unset=True).run(None, True)[1]
    except _SyntaxError:
        return []


def _heredoc_word(rest: str) -> tuple[str, bool] | None:
    """(terminator, expand) for the text after `<<` / `<<-`, or None when not a heredoc.

    A heredoc word is one shell word; any quoting in it makes the content literal.
    """
    try:
        plain = _Lexer(rest, {}, "\\", skip_unset=True).run(None, False)[1]
        if len(plain) != 1:
            return None
        raw = _Lexer(rest, {}, "\\", raw_quotes=True, skip_unset=True).run(None, False)[1]
    except _SyntaxError as e:
        raise _fail(f"failed to process {_quote(rest)}: {e}") from None
    if len(raw) != len(plain):
        raise _fail(f"internal lexing of heredoc produced inconsistent results: {rest}")
    word = plain[0]
    quotes = word.count("'") + word.count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return word, quotes == raw_quotes
