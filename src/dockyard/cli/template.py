"""The part of Go's text/template that people use with `docker ... --format`.

Actions: `{{.Field.Sub}}`, `{{$var.Field}}`, pipelines (`{{.Name | upper}}`), parenthesised
pipelines, variables (`{{$x := .A}}`, `{{range $i, $e := .List}}`, `$` for the root),
`if`/`else if`/`else`/`end`, `range` (with `else`, `break`, `continue`), `with`, comments
and the `{{-`/`-}}` trim markers. Functions: Go's builtins (and, or, not, len, index, slice,
print, printf, println, eq, ne, lt, le, gt, ge, html, js, urlquery) and Docker's (json,
split, join, title, lower, upper, pad, truncate). Values print as Go prints them
(`map[a:b]`, `[x y]`, `<no value>` for a missing key, `<nil>`).

Errors read like Go's (`template: :1: function "nosuch" not defined`, `template: :1:2:
executing "" at <.Foo>: ...`), wrapped as Docker wraps them ("template parsing error: ...").

`Formatter` is Docker's formatter.Context: `table` formats (header row from the field
names, columns aligned like Go's tabwriter), `json`, and custom formats, over rows that
are plain dicts or objects whose attributes are the fields (ps, images, stats).
"""

from __future__ import annotations

import json

from ..errors import InvalidArgument


class TemplateError(InvalidArgument):
    """A template that does not parse or does not execute (Docker exits 1 for these)."""

    status = 1

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class _Missing:
    """A key a map does not have: prints as Go's `<no value>`."""

    def __str__(self) -> str:
        return "<no value>"

    def __repr__(self) -> str:
        return "<no value>"


MISSING = _Missing()


class _Exec(Exception):
    """An execution error at a node; turned into Go's message by `Template.execute`."""

    def __init__(self, message: str, node=None) -> None:
        super().__init__(message)
        self.message = message
        self.node = node


class _Parse(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


# ---- printing values the way Go's fmt does -----------------------------------------------

def go_float(f: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 64): the shortest form, %e past 21 digits."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "0"
    r = repr(abs(f))
    sign = "-" if f < 0 else ""
    mant, _, exp = r.partition("e")
    e = int(exp) if exp else 0
    ip, _, fp = mant.partition(".")
    digits = (ip + fp).lstrip("0")
    if fp == "0":
        fp = ""
    # decimal point position relative to `digits`
    if ip.strip("0"):
        dp = len(ip.lstrip("0")) + e
    else:
        dp = -(len(fp) - len(fp.lstrip("0"))) + e
    digits = digits.rstrip("0") or "0"
    nd = len(digits)
    eprec = 6
    if eprec > nd and nd >= dp:
        eprec = nd
    x = dp - 1
    if x < -4 or x >= max(eprec, 21 if nd >= dp and dp > 0 else eprec):
        m = digits[0] + ("." + digits[1:] if nd > 1 else "")
        return f"{sign}{m}e{'+' if x >= 0 else '-'}{abs(x):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= nd:
        return sign + digits + "0" * (dp - nd)
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def go_str(v) -> str:
    """fmt.Sprint of a value."""
    if v is None:
        return "<nil>"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, dict):
        return "map[" + " ".join(f"{go_str(k)}:{go_str(x)}" for k, x in sorted(v.items(), key=_key)) + "]"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(go_str(x) for x in v) + "]"
    return str(v)


def _key(item):
    k = item[0]
    return (0, k, "") if isinstance(k, (int, float)) else (1, 0, str(k))


def _go_type(v) -> str:
    if v is None or v is MISSING:
        return "interface {}"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, (list, tuple)):
        return "[]interface {}"
    return getattr(v, "go_type", "*" + type(v).__name__)


def truth(v) -> bool:
    """Go's truth: false, 0, nil, and empty strings, slices and maps are false."""
    if v is MISSING or v is None:
        return False
    if isinstance(v, (bool, int, float, str, list, tuple, dict)):
        return bool(v)
    return True


# ---- functions ------------------------------------------------------------------------------

def go_json(v) -> str:
    if v is MISSING:
        v = None
    to_json = getattr(v, "to_json", None)
    if to_json is not None:
        v = to_json()
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _json_default(o):
    if o is MISSING:
        return None
    to_json = getattr(o, "to_json", None)
    if to_json is not None:
        return to_json()
    raise TypeError(f"json: unsupported type: {type(o).__name__}")


def _printf(fmt: str, *args) -> str:
    """fmt.Sprintf for the verbs people use: %s %v %d %q %t %x %f %e %g, flags and widths."""
    out, i, n = [], 0, 0
    while i < len(fmt):
        ch = fmt[i]
        if ch != "%" or i + 1 >= len(fmt):
            out.append(ch)
            i += 1
            continue
        j = i + 1
        while j < len(fmt) and fmt[j] in "-+# 0123456789.":
            j += 1
        if j >= len(fmt):
            out.append("%!(NOVERB)")
            break
        verb, spec = fmt[j], fmt[i + 1:j]
        i = j + 1
        if verb == "%":
            out.append("%")
            continue
        if n >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[n]
        n += 1
        num = isinstance(arg, (int, float)) and not isinstance(arg, bool)
        if verb == "d" and isinstance(arg, int) and not isinstance(arg, bool):
            out.append(("%" + spec + "d") % arg)
        elif verb in "feEgG" and num:
            out.append(("%" + spec + verb) % arg)
        elif verb in "xX" and isinstance(arg, int) and not isinstance(arg, bool):
            out.append(("%" + spec + verb) % arg)
        elif verb in "xX" and isinstance(arg, str):
            h = arg.encode().hex()
            out.append(("%" + spec + "s") % (h.upper() if verb == "X" else h))
        elif verb == "q":
            out.append(("%" + spec + "s") % json.dumps(go_str(arg), ensure_ascii=False))
        elif verb == "t" and isinstance(arg, bool):
            out.append(("%" + spec + "s") % go_str(arg))
        elif verb in "sv":
            out.append(("%" + spec + "s") % go_str(arg))
        else:
            out.append(f"%!{verb}({_go_type(arg)}={go_str(arg)})")
    if n < len(args):
        out.append("%!(EXTRA " + ", ".join(f"{_go_type(a)}={go_str(a)}" for a in args[n:]) + ")")
    return "".join(out)


def _print(*args) -> str:
    """fmt.Sprint: spaces between operands when neither is a string."""
    out = []
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(go_str(a))
    return "".join(out)


def _index(v, *keys):
    for k in keys:
        if v is MISSING or v is None:
            raise _Exec("index of untyped nil")
        if isinstance(v, dict):
            if k in v:
                v = v[k]
            else:
                # the zero value of the map's element type: "" for string maps
                v = "" if v and all(isinstance(x, str) for x in v.values()) else None
        elif isinstance(v, (list, tuple, str)):
            if not isinstance(k, int) or isinstance(k, bool):
                raise _Exec(f"cannot index slice/array with type {_go_type(k)}")
            if not 0 <= k < len(v):
                raise _Exec(f"error calling index: index out of range: {k}")
            v = v[k] if not isinstance(v, str) else ord(v[k])
        else:
            raise _Exec(f"can't index item of type {_go_type(v)}")
    return v


def _slice(v, *idx):
    if not isinstance(v, (list, tuple, str)):
        raise _Exec(f"can't slice item of type {_go_type(v)}")
    if len(idx) > 2:
        idx = idx[:2]
    lo = idx[0] if idx else 0
    hi = idx[1] if len(idx) > 1 else len(v)
    if not 0 <= lo <= hi <= len(v):
        raise _Exec(f"error calling slice: index out of range: {hi}")
    return v[lo:hi]


def _len(v) -> int:
    if v is MISSING or v is None:
        raise _Exec("error calling len: len of nil pointer")
    if isinstance(v, (str, list, tuple, dict)):
        return len(v.encode() if isinstance(v, str) else v)
    raise _Exec(f"error calling len: len of type {_go_type(v)}")


def _join(v, sep: str) -> str:
    if v is None or v is MISSING:
        return ""
    if isinstance(v, dict):
        return sep.join(sorted(go_str(x) for x in v.values()))
    if isinstance(v, (list, tuple)):
        return sep.join(go_str(x) for x in v)
    raise _Exec(f"error calling join: expected slice, got {_go_type(v)}")


def _cmp_args(a, b):
    if isinstance(a, bool) != isinstance(b, bool):
        raise _Exec("incompatible types for comparison")
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a, b
    if isinstance(a, str) and isinstance(b, str):
        return a, b
    if a is MISSING or b is MISSING:
        raise _Exec("invalid type for comparison")
    if type(a) is not type(b):
        raise _Exec("incompatible types for comparison")
    return a, b


def _eq(a, *others) -> bool:
    if not others:
        raise _Exec("wrong number of args for eq: want at least 1 got 0")
    for b in others:
        if (a is None or a is MISSING) and (b is None or b is MISSING):
            return True
        if isinstance(a, (dict, list, tuple)) or isinstance(b, (dict, list, tuple)):
            raise _Exec("error calling eq: non-comparable type")
        x, y = _cmp_args(a, b)
        if x == y:
            return True
    return False


def _lt(a, b) -> bool:
    x, y = _cmp_args(a, b)
    if isinstance(x, bool):
        raise _Exec("error calling lt: invalid type for comparison")
    return x < y


def _title(s) -> str:
    """strings.Title: the first letter of each space-separated word upper-cased."""
    out, prev = [], " "
    for ch in go_str(s):
        out.append(ch.upper() if not (prev.isalnum() or prev == "_" or prev == "'") else ch)
        prev = ch
    return "".join(out)


def _pad(s, prefix: int, suffix: int) -> str:
    s = go_str(s)
    return s if not s else " " * prefix + s + " " * suffix


def _truncate(s, n: int) -> str:
    s = go_str(s)
    return s if len(s) < n else s[:n]


def _html(*a) -> str:
    import html

    return html.escape(_print(*a), quote=True).replace("&#x27;", "&#39;")


def _js(*a) -> str:
    out = []
    for ch in _print(*a):
        if ch in "\\'\"":
            out.append("\\" + ch)
        elif ch in "<>&=" or ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def _urlquery(*a) -> str:
    from urllib.parse import quote_plus

    return quote_plus(_print(*a))


FUNCS = {
    # Docker's (templates.basicFunctions)
    "json": go_json,
    "split": lambda s, sep: go_str(s).split(sep) if sep else list(go_str(s)),
    "join": _join,
    "title": _title,
    "lower": lambda s: go_str(s).lower(),
    "upper": lambda s: go_str(s).upper(),
    "pad": _pad,
    "truncate": _truncate,
    # Go's builtins
    "index": _index,
    "slice": _slice,
    "len": _len,
    "printf": _printf,
    "print": _print,
    "println": lambda *a: " ".join(go_str(x) for x in a) + "\n",
    "not": lambda v: not truth(v),
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _lt,
    "le": lambda a, b: _lt(a, b) or _eq(a, b),
    "gt": lambda a, b: not (_lt(a, b) or _eq(a, b)),
    "ge": lambda a, b: not _lt(a, b),
    "html": _html,
    "js": _js,
    "urlquery": _urlquery,
}
_ARITY = {"json": 1, "title": 1, "lower": 1, "upper": 1, "split": 2, "join": 2, "pad": 3,
          "truncate": 2, "len": 1, "not": 1, "ne": 2, "lt": 2, "le": 2, "gt": 2, "ge": 2}

# table headers keep their text: Docker swaps these in when it renders the header row
HEADER_FUNCS = dict(FUNCS, json=lambda v: v, split=lambda v, _s: v, join=lambda v, _s: v,
                    title=lambda v: v, lower=lambda v: v, upper=lambda v: v,
                    truncate=lambda v, _n: v)


# ---- lexing -----------------------------------------------------------------------------

class _Tok:
    __slots__ = ("kind", "text", "pos")

    def __init__(self, kind: str, text: str, pos: int) -> None:
        self.kind = kind  # field var ident string number bool nil dot ( ) | := = , char
        self.text = text
        self.pos = pos

    def __repr__(self) -> str:
        return self.text


def _split(text: str) -> list[tuple]:
    """[("text", s, pos) | ("action", s, pos)], with the trim markers applied."""
    parts: list[tuple] = []
    i = 0
    while True:
        j = text.find("{{", i)
        if j < 0:
            parts.append(("text", text[i:], i))
            return parts
        chunk = text[i:j]
        start = j + 2
        if text[start:start + 2] in ("- ", "-\t", "-\n", "-\r"):
            chunk = chunk.rstrip(" \t\r\n")
            start += 1
        if chunk:
            parts.append(("text", chunk, i))
        # find the closing delimiter outside quoted strings and comments
        k = start
        while k < len(text):
            if text.startswith("/*", k):
                end = text.find("*/", k + 2)
                if end < 0:
                    raise _Parse("unclosed comment", text.count("\n", 0, j) + 1)
                k = end + 2
                continue
            c = text[k]
            if c in "\"'`":
                q = k + 1
                while q < len(text) and text[q] != c:
                    if text[q] == "\\" and c != "`":
                        q += 1
                    elif text[q] == "\n" and c != "`":
                        raise _Parse("unterminated quoted string", text.count("\n", 0, j) + 1)
                    q += 1
                if q >= len(text):
                    raise _Parse("unterminated quoted string" if c != "`" else "unterminated raw quoted string",
                                 text.count("\n", 0, j) + 1)
                k = q + 1
                continue
            if text.startswith("}}", k):
                break
            k += 1
        else:
            raise _Parse("unclosed action", text.count("\n", 0, j) + 1)
        end = k
        trim_right = end - start >= 2 and text[end - 1] == "-" and text[end - 2] in " \t\r\n"
        action = text[start:end - 1] if trim_right else text[start:end]
        parts.append(("action", action, start))
        i = end + 2
        if trim_right:
            while i < len(text) and text[i] in " \t\r\n":
                i += 1


def _lex(s: str, base: int, line: int) -> list[_Tok]:
    toks, i = [], 0
    while i < len(s):
        c = s[i]
        p = base + i
        if c in " \t\r\n":
            i += 1
        elif c == '"':
            j = i + 1
            while j < len(s) and s[j] != '"':
                j += 2 if s[j] == "\\" else 1
            toks.append(_Tok("string", s[i:j + 1], p))
            i = j + 1
        elif c == "`":
            j = s.index("`", i + 1)
            toks.append(_Tok("rawstring", s[i:j + 1], p))
            i = j + 1
        elif c == "'":
            j = i + 1
            while j < len(s) and s[j] != "'":
                j += 2 if s[j] == "\\" else 1
            toks.append(_Tok("char", s[i:j + 1], p))
            i = j + 1
        elif c in "()|,":
            toks.append(_Tok(c, c, p))
            i += 1
        elif s.startswith(":=", i):
            toks.append(_Tok(":=", ":=", p))
            i += 2
        elif c == "=":
            toks.append(_Tok("=", "=", p))
            i += 1
        elif s.startswith("/*", i):
            end = s.find("*/", i + 2)
            i = end + 2 if end >= 0 else len(s)
        else:
            j = i
            while j < len(s) and s[j] not in " \t\r\n()|,=\"`'" and not s.startswith(":=", j):
                j += 1
            word = s[i:j]
            if j == i:
                raise _Parse(f"unexpected {s[i]!r} in command", line)
            i = j
            if word == ".":
                toks.append(_Tok("dot", word, p))
            elif word.startswith("."):
                if word.endswith(".") or ".." in word:
                    raise _Parse(f"unexpected . after term {word!r}", line)
                toks.append(_Tok("field", word, p))
            elif word.startswith("$"):
                toks.append(_Tok("var", word, p))
            elif word in ("true", "false"):
                toks.append(_Tok("bool", word, p))
            elif word == "nil":
                toks.append(_Tok("nil", word, p))
            elif word[0].isdigit() or (word[0] in "+-." and len(word) > 1 and word[1].isdigit()):
                toks.append(_Tok("number", word, p))
            elif word.replace("_", "a").isalnum():
                toks.append(_Tok("ident", word, p))
            elif "." in word and word.split(".")[0].replace("_", "a").isalnum():
                # a function's result is not a field chain in Go's grammar
                raise _Parse(f"unexpected . after term {word.split('.')[0]!r}", line)
            else:
                raise _Parse(f"unexpected {word!r} in command", line)
    return toks


# ---- parsing ------------------------------------------------------------------------------

class _Pipe:
    __slots__ = ("decl", "assign", "cmds", "pos")

    def __init__(self, decl: list[str], assign: bool, cmds: list[list], pos: int) -> None:
        self.decl = decl
        self.assign = assign
        self.cmds = cmds  # each: list of operands (_Tok or ("pipe", _Pipe, [fields]))
        self.pos = pos


_KEYWORDS = ("if", "range", "with", "else", "end", "break", "continue", "define", "template", "block")


class _Parser:
    def __init__(self, text: str, funcs: dict) -> None:
        self.text = text
        self.funcs = funcs
        self.parts = _split(text)
        self.i = 0
        self.vars: list[list[str]] = [["$"]]
        self.loops = 0

    def line(self, pos: int) -> int:
        return self.text.count("\n", 0, pos) + 1

    def parse(self) -> list:
        nodes, stop = self.list_until(())
        return nodes

    def list_until(self, stops: tuple) -> tuple[list, tuple | None]:
        nodes: list = []
        while self.i < len(self.parts):
            kind, s, pos = self.parts[self.i]
            self.i += 1
            if kind == "text":
                nodes.append(("text", s))
                continue
            stripped = s.strip()
            if stripped.startswith("/*"):
                if not stripped.endswith("*/"):
                    raise _Parse("comment ends before closing delimiter", self.line(pos))
                continue
            word = stripped.split(None, 1)[0] if stripped else ""
            if word.startswith("/*"):
                continue
            rest_at = s.find(word) + len(word) if word else 0
            if word in ("else", "end"):
                if word not in stops:
                    raise _Parse(f"unexpected {{{{{word}}}}}", self.line(pos))
                return nodes, (word, s[rest_at:], pos + rest_at)
            if word in ("if", "range", "with"):
                nodes.append(self.control(word, s[rest_at:], pos + rest_at))
            elif word in ("break", "continue"):
                if not self.loops:
                    raise _Parse(f"{{{{{word}}}}} outside {{{{range}}}}", self.line(pos))
                if s[rest_at:].strip():
                    raise _Parse(f"unexpected {s[rest_at:].strip()!r} in {word}", self.line(pos))
                nodes.append((word,))
            elif word in ("define", "template", "block"):
                raise _Parse(f"{{{{{word}}}}} is not supported in --format templates", self.line(pos))
            elif not stripped:
                raise _Parse("missing value for command", self.line(pos))
            else:
                nodes.append(("pipe", self.pipeline(s, pos, "command")))
        if stops:
            raise _Parse("unexpected EOF", self.line(len(self.text)))
        return nodes, None

    def control(self, word: str, s: str, pos: int) -> tuple:
        self.vars.append([])
        pipe = self.pipeline(s, pos, word)
        if not pipe.cmds:
            raise _Parse(f"missing value for {word}", self.line(pos))
        if word == "range":
            self.loops += 1
        body, stop = self.list_until(("else", "end"))
        if word == "range":
            self.loops -= 1
        self.vars.pop()
        other: list = []
        if stop and stop[0] == "else":
            rest = stop[1].strip()
            if rest.split(None, 1)[:1] in (["if"], ["with"]) and word in ("if", "with"):
                # `else if` / `else with`: a nested control that shares our {{end}}
                kw = rest.split(None, 1)[0]
                sub_s = stop[1][stop[1].find(kw) + len(kw):]
                other = [self.control(kw, sub_s, stop[2])]
                return (word, pipe, body, other)
            if rest:
                raise _Parse(f"unexpected {rest!r} in else", self.line(stop[2]))
            self.vars.append([])
            other, stop = self.list_until(("end",))
            self.vars.pop()
        if stop is None or stop[0] != "end":
            raise _Parse("unexpected EOF", self.line(len(self.text)))
        if stop[1].strip():
            raise _Parse(f"unexpected {stop[1].strip()!r} in end", self.line(stop[2]))
        return (word, pipe, body, other)

    def pipeline(self, s: str, pos: int, context: str) -> _Pipe:
        line = self.line(pos)
        try:
            toks = _lex(s, pos, line)
        except ValueError:
            raise _Parse("unterminated raw quoted string", line) from None
        decl: list[str] = []
        assign = False
        # declarations: $x := / $x = / $i, $e :=
        if toks and toks[0].kind == "var":
            if len(toks) > 1 and toks[1].kind in (":=", "="):
                decl, assign = [toks[0].text], toks[1].kind == "="
                toks = toks[2:]
            elif context == "range" and len(toks) > 3 and toks[1].kind == "," and toks[2].kind == "var" \
                    and toks[3].kind in (":=", "="):
                decl, assign = [toks[0].text, toks[2].text], toks[3].kind == "="
                toks = toks[4:]
        for d in decl:
            if "." in d:
                raise _Parse(f"unexpected {d!r} in {context}", line)
            if assign:
                if not any(d in scope for scope in self.vars):
                    raise _Parse(f"undefined variable \"{d}\"", line)
            else:
                self.vars[-1].append(d)
        cmds = self.commands(toks, line, context)
        if decl and not cmds:
            raise _Parse(f"missing value for {context}", line)
        return _Pipe(decl, assign, cmds, pos)

    def commands(self, toks: list[_Tok], line: int, context: str) -> list[list]:
        cmds: list[list] = []
        cur: list = []
        i = 0
        while i < len(toks):
            t = toks[i]
            if t.kind == "|":
                if not cur:
                    raise _Parse("missing command", line)
                cmds.append(cur)
                cur = []
                i += 1
                continue
            if t.kind == "(":
                depth, j = 1, i + 1
                while j < len(toks) and depth:
                    depth += {"(": 1, ")": -1}.get(toks[j].kind, 0)
                    j += 1
                if depth:
                    raise _Parse("unclosed left paren", line)
                inner = toks[i + 1:j - 1]
                sub = _Pipe([], False, self.commands(inner, line, "parenthesized pipeline"), t.pos)
                if not sub.cmds:
                    raise _Parse("missing value for parenthesized pipeline", line)
                # (pipeline).Field.Chain
                fields: list[str] = []
                while j < len(toks) and toks[j].kind == "field" and toks[j].pos == toks[j - 1].pos + len(toks[j - 1].text):
                    fields += [f for f in toks[j].text.split(".") if f]
                    j += 1
                cur.append(("pipe", sub, fields, t.pos))
                i = j
                continue
            if t.kind == ")":
                raise _Parse("unexpected right paren", line)
            if t.kind in (":=", "=", ","):
                raise _Parse(f"unexpected \"{t.text}\" in {context}", line)
            if t.kind == "ident":
                if t.text in _KEYWORDS:
                    raise _Parse(f"unexpected <{t.text}> in {context}", line)
                if t.text not in self.funcs:
                    raise _Parse(f'function "{t.text}" not defined', line)
            if t.kind == "var":
                name = t.text.split(".", 1)[0]
                if not any(name in scope for scope in self.vars):
                    raise _Parse(f'undefined variable "{name}"', line)
            cur.append(t)
            i += 1
        if cur:
            cmds.append(cur)
        elif cmds:
            raise _Parse("missing command", line)
        for k, cmd in enumerate(cmds):
            head = cmd[0]
            is_func = isinstance(head, _Tok) and head.kind == "ident"
            if not is_func and len(cmd) > 1 and not (isinstance(head, _Tok) and head.kind in ("field", "var")):
                raise _Parse(f"can't give argument to non-function {_show(head)}", line)
            if k and not is_func and not (isinstance(head, _Tok) and head.kind in ("field", "var")) \
                    and not isinstance(head, tuple):
                raise _Parse(f"non executable command in pipeline stage {k + 1}", line)
        return cmds


def _show(op) -> str:
    if isinstance(op, _Tok):
        return op.text
    return "(" + " | ".join(" ".join(_show(x) for x in c) for c in op[1].cmds) + ")" + \
        "".join("." + f for f in op[2])


# ---- execution ----------------------------------------------------------------------------

class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _State:
    __slots__ = ("vars", "funcs", "strict")

    def __init__(self, root, funcs: dict, strict) -> None:
        self.vars: list[tuple[str, object]] = [("$", root)]
        self.funcs = funcs
        self.strict = strict

    def lookup(self, name: str):
        for n, v in reversed(self.vars):
            if n == name:
                return v
        raise _Exec(f"undefined variable: {name}")

    def set(self, name: str, value) -> None:
        for k in range(len(self.vars) - 1, -1, -1):
            if self.vars[k][0] == name:
                self.vars[k] = (name, value)
                return


def _field(v, name: str, node, st: _State, args: list | None = None, parent_key: str | None = None):
    if v is MISSING or v is None:
        if st.strict is not None and v is MISSING:
            raise _Exec(f"nil data; no entry for key \"{name}\"", node)
        return MISSING if v is MISSING else _nil_field(name, node)
    if isinstance(v, dict):
        if args:
            raise _Exec(f"{name} is not a method but has arguments", node)
        if name in v:
            return v[name]
        if st.strict is not None and parent_key not in st.strict:
            raise _Exec(f"map has no entry for key \"{name}\"", node)
        return MISSING
    if isinstance(v, (str, int, float, bool, list, tuple)):
        raise _Exec(f"can't evaluate field {name} in type {_go_type(v)}", node)
    if name.startswith("_") or not hasattr(v, name):
        raise _Exec(f"can't evaluate field {name} in type {_go_type(v)}", node)
    attr = getattr(v, name)
    if callable(attr):
        try:
            return attr(*(args or []))
        except TypeError as e:
            raise _Exec(f"wrong number of args for {name}: {e}", node) from None
    if args:
        raise _Exec(f"{name} has arguments but cannot be invoked as function", node)
    return attr


def _nil_field(name: str, node):
    raise _Exec(f"nil pointer evaluating interface {{}}.{name}", node)


def _chain(v, fields: list[str], node, st: _State, args: list | None = None, key: str | None = None):
    for k, f in enumerate(fields):
        last = k == len(fields) - 1
        v, key = _field(v, f, node, st, args if last else None, key), f
    return v


def _operand(op, dot, st: _State, args: list | None = None):
    if isinstance(op, tuple):  # ("pipe", _Pipe, fields, pos)
        v = _pipe(op[1], dot, st)
        return _chain(v, op[2], op, st, args) if op[2] else v
    k = op.kind
    if k == "field":
        return _chain(dot, [f for f in op.text.split(".") if f], op, st, args)
    if k == "var":
        name, _, rest = op.text.partition(".")
        v = st.lookup(name)
        return _chain(v, rest.split("."), op, st, args) if rest else v
    if k == "dot":
        return dot
    if k == "string":
        try:
            return json.loads(op.text)
        except ValueError:
            raise _Exec(f"invalid syntax: {op.text}", op) from None
    if k == "rawstring":
        return op.text[1:-1]
    if k == "char":
        body = op.text[1:-1]
        try:
            body = json.loads('"' + body.replace('\\\'', "'") + '"')
        except ValueError:
            pass
        return ord(body[0]) if body else 0
    if k == "bool":
        return op.text == "true"
    if k == "nil":
        raise _Exec("nil is not a command", op)
    if k == "number":
        t = op.text.replace("_", "")
        try:
            if t.lower().startswith(("0x", "-0x", "+0x", "0o", "0b")):
                return int(t, 0)
            if any(c in t for c in ".eE") and not t.lower().startswith("0x"):
                return float(t)
            return int(t, 10)
        except ValueError:
            raise _Exec(f"bad number syntax: {op.text!r}", op) from None
    raise _Exec(f"can't evaluate {op.text}", op)


def _arg(op, dot, st: _State):
    if isinstance(op, _Tok) and op.kind == "nil":
        return None
    if isinstance(op, _Tok) and op.kind == "ident":
        return _call(op, [], None, False, dot, st)
    return _operand(op, dot, st)


def _call(head: _Tok, arg_ops: list, piped, has_piped: bool, dot, st: _State):
    name = head.text
    fn = st.funcs[name]
    if name in ("and", "or"):
        vals = [lambda o=o: _arg(o, dot, st) for o in arg_ops]
        if has_piped:
            vals.append(lambda: piped)
        if not vals:
            raise _Exec(f"wrong number of args for {name}: want at least 1 got 0", head)
        v = None
        for get in vals:
            v = get()
            if truth(v) == (name == "or"):
                return v
        return v
    args = [_arg(o, dot, st) for o in arg_ops]
    if has_piped:
        args.append(piped)
    want = _ARITY.get(name)
    if want is not None and len(args) != want:
        raise _Exec(f"wrong number of args for {name}: want {want} got {len(args)}", head)
    if name in ("upper", "lower", "title", "split", "pad", "truncate") and args and \
            not isinstance(args[0], str) and args[0] is not MISSING:
        raise _Exec(f"wrong type for value; expected string; got {_go_type(args[0])}", head)
    try:
        return fn(*args)
    except _Exec as e:
        if e.node is None:
            e.node = head
            if not e.message.startswith("error calling"):
                e.message = f"error calling {name}: {e.message}"
        raise
    except TypeError:
        raise _Exec(f"wrong number of args for {name}: got {len(args)}", head) from None


def _pipe(p: _Pipe, dot, st: _State):
    value = None
    for k, cmd in enumerate(p.cmds):
        head = cmd[0]
        has_piped = k > 0
        if isinstance(head, _Tok) and head.kind == "ident":
            value = _call(head, cmd[1:], value, has_piped, dot, st)
        elif isinstance(head, _Tok) and head.kind in ("field", "var") and (len(cmd) > 1 or has_piped):
            args = [_arg(o, dot, st) for o in cmd[1:]]
            if has_piped:
                args.append(value)
            value = _operand(head, dot, st, args)
        else:
            value = _arg(head, dot, st)
    if p.decl:
        if len(p.decl) == 1:
            if p.assign:
                st.set(p.decl[0], value)
            else:
                st.vars.append((p.decl[0], value))
    return value


def _run(nodes: list, dot, st: _State, out: list[str]) -> None:
    for node in nodes:
        kind = node[0]
        if kind == "text":
            out.append(node[1])
        elif kind == "pipe":
            v = _pipe(node[1], dot, st)
            if not node[1].decl:
                out.append(_printable(v, node[1]))
        elif kind == "break":
            raise _Break()
        elif kind == "continue":
            raise _Continue()
        else:
            _, pipe, body, other = node
            mark = len(st.vars)
            if kind == "range":
                _range(pipe, body, other, dot, st, out)
            else:
                v = _pipe(pipe, dot, st)
                if truth(v):
                    _run(body, v if kind == "with" else dot, st, out)
                else:
                    _run(other, dot, st, out)
            del st.vars[mark:]


def _printable(v, node) -> str:
    return "<no value>" if v is MISSING else go_str(v)


def _range(pipe: _Pipe, body: list, other: list, dot, st: _State, out: list[str]) -> None:
    decl, pipe.decl = pipe.decl, []
    try:
        v = _pipe(pipe, dot, st)
    finally:
        pipe.decl = decl
    if isinstance(v, dict):
        items = [(k, v[k]) for k in sorted(v, key=lambda k: _key((k, None)))]
    elif isinstance(v, (list, tuple)):
        items = list(enumerate(v))
    elif isinstance(v, int) and not isinstance(v, bool):
        items = [(i, i) for i in range(v)]
    elif v is MISSING or v is None:
        items = []
    else:
        raise _Exec(f"range can't iterate over {go_str(v)}", pipe)
    if not items:
        _run(other, dot, st, out)
        return
    mark = len(st.vars)
    for key, item in items:
        del st.vars[mark:]
        if len(decl) == 1:
            st.vars.append((decl[0], item))
        elif len(decl) == 2:
            st.vars.append((decl[0], key))
            st.vars.append((decl[1], item))
        try:
            _run(body, item, st, out)
        except _Break:
            break
        except _Continue:
            continue


class Template:
    """A parsed template; `execute(data)` renders it."""

    def __init__(self, text: str, funcs: dict | None = None, strict_maps: "set[str] | None" = None,
                 prefix: str = "template parsing error: ", status: int | None = None) -> None:
        self.text = text
        self.funcs = funcs or FUNCS
        self.prefix = prefix
        self.status = status
        self.strict = strict_maps
        try:
            self.nodes = _Parser(text, dict(self.funcs, **{"and": None, "or": None})).parse()
        except _Parse as e:
            raise TemplateError(f"{prefix}template: :{e.line}: {e.message}", status) from None

    def execute(self, data, funcs: dict | None = None) -> str:
        out: list[str] = []
        st = _State(data, dict(funcs or self.funcs, **{"and": None, "or": None}), self.strict)
        try:
            _run(self.nodes, data, st, out)
        except _Exec as e:
            raise TemplateError(self.prefix + self._exec_message(e), self.status) from None
        except (_Break, _Continue):
            pass
        return "".join(out)

    def execute_partial(self, data, funcs: dict | None = None) -> str:
        """What Go writes before an error (Docker ignores errors rendering table headers)."""
        out: list[str] = []
        st = _State(data, dict(funcs or self.funcs, **{"and": None, "or": None}), self.strict)
        try:
            _run(self.nodes, data, st, out)
        except (_Exec, _Break, _Continue):
            pass
        return "".join(out)

    def _exec_message(self, e: _Exec) -> str:
        node = e.node
        pos = node.pos if isinstance(node, _Tok) else node[3] if isinstance(node, tuple) else \
            node.pos if isinstance(node, _Pipe) else None
        if pos is None:
            return f"template: :1: {e.message}"
        line = self.text.count("\n", 0, pos) + 1
        col = pos - (self.text.rfind("\n", 0, pos) + 1)
        shown = _show(node) if isinstance(node, (_Tok, tuple)) else "pipeline"
        if len(shown) > 20:
            shown = shown[:20] + "..."
        return f'template: :{line}:{col}: executing "" at <{shown}>: {e.message}'


def render(template: str, data, strict_maps: "set[str] | None" = None) -> str:
    """Render `template` over `data` (TemplateError if it does not parse or run)."""
    return Template(template, strict_maps=strict_maps).execute(data)


# ---- Docker's formatter.Context: table, json and custom formats over rows ------------------

def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """Go's text/tabwriter (tabwidth 1, padchar ' ', no flags): tab-terminated cells are
    aligned in columns per block of consecutive lines that have that column."""
    lines = text.split("\n")
    trailing = lines[-1] == ""
    if trailing:
        lines.pop()
    cells = [ln.split("\t") for ln in lines]
    out: list[str] = []
    widths: list[int] = []

    def write(a: int, b: int) -> None:
        for ln in cells[a:b]:
            parts = []
            for j, c in enumerate(ln):
                if j < len(widths) and j < len(ln) - 1:
                    parts.append(c.ljust(widths[j]))
                else:
                    parts.append(c)
            out.append("".join(parts))

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(cells[this]) - 1:
                this += 1
                continue
            write(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(cells[this]) - 1:
                width = max(width, len(cells[this][column]) + padding)
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write(line0, line1)

    fmt(0, len(cells))
    return "\n".join(out) + ("\n" if trailing else "")


class Row:
    """A row whose fields are a dict's keys but which behaves like a Go struct in a
    template: a field it lacks is an error, `json .` gives the fields."""

    def __init__(self, go_type: str, fields: dict) -> None:
        self.go_type = go_type
        self._fields = fields

    def __getattr__(self, name: str):
        fields = self.__dict__.get("_fields") or {}
        if name in fields:
            return fields[name]
        raise AttributeError(name)

    def to_json(self) -> dict:
        return dict(sorted(self._fields.items()))


def format_string(fmt: str) -> str:
    """Docker's Format.templateString: `table` dropped, spaces trimmed, \\t and \\n made real."""
    if fmt == "table":
        return ""
    if fmt == "json":
        return "{{json .}}"
    if fmt.startswith("table"):
        fmt = fmt[5:]
    return fmt.strip(" ").replace("\\t", "\t").replace("\\n", "\n")


class Formatter:
    """Render rows with a --format value (after its command substituted its default
    for "" and "table"). Table formats get a header row: the template executed over
    `headers` (field name -> column title) with json, upper, ... leaving titles alone."""

    def __init__(self, fmt: str, headers: dict[str, str]) -> None:
        self.table = fmt.startswith("table")
        self.headers = headers
        self.template = Template(format_string(fmt))

    def render(self, rows) -> str:
        body = "".join(self.template.execute(r) + "\n" for r in rows)
        if not self.table:
            return body
        head = self.template.execute_partial(self.headers, HEADER_FUNCS)
        return tabwrite(head + "\n" + body)
