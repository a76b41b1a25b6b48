"""The part of Go's text/template that people use with `docker ... --format`.

Fields (`{{.State.Status}}`, `{{.Config.Env}}`), pipes (`{{.Name | upper}}`), the
functions json, index, join, split, upper, lower, title, len, printf, println, and
the actions if/else/end, range/end, with/end. Values print as Go prints them
(`map[a:b]`, `[x y]`, `<no value>` for a missing field).
"""

from __future__ import annotations

import json

from ..errors import InvalidArgument


class _Missing:
    def __str__(self) -> str:
        return "<no value>"


MISSING = _Missing()


def go_str(v) -> str:
    if v is None:
        return "<nil>"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{go_str(x)}" for k, x in sorted(v.items())) + "]"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(go_str(x) for x in v) + "]"
    return str(v)


def _printf(fmt: str, *args) -> str:
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
        verb, spec = fmt[j], fmt[i + 1:j]
        i = j + 1
        if verb == "%":
            out.append("%")
            continue
        arg = args[n] if n < len(args) else MISSING
        n += 1
        if verb in "dfegx" and isinstance(arg, (int, float)) and not isinstance(arg, bool):
            out.append(("%" + spec + verb) % arg)
        elif verb == "q":
            out.append(json.dumps(go_str(arg)))
        else:
            out.append(("%" + spec + "s") % go_str(arg))
    return "".join(out)


FUNCS = {
    "json": lambda v: json.dumps(None if v is MISSING else v, ensure_ascii=False, separators=(",", ":")),
    "index": lambda v, *keys: _index(v, keys),
    "join": lambda v, sep: sep.join(go_str(x) for x in (v or [])),
    "split": lambda s, sep: s.split(sep),
    "upper": lambda s: go_str(s).upper(),
    "lower": lambda s: go_str(s).lower(),
    "title": lambda s: go_str(s).title(),
    "len": lambda v: len(v) if v is not None else 0,
    "printf": _printf,
    "println": lambda *a: " ".join(go_str(x) for x in a) + "\n",
    "print": lambda *a: "".join(go_str(x) for x in a),
    "truncate": lambda s, n: go_str(s)[:n],
}


def _index(v, keys):
    for k in keys:
        if isinstance(v, dict):
            v = v.get(k, MISSING)
        elif isinstance(v, (list, tuple)) and isinstance(k, int):
            v = v[k] if 0 <= k < len(v) else MISSING
        else:
            raise InvalidArgument(f"template: can't index item of type {type(v).__name__}")
    return v


def _split(text: str) -> list[tuple[str, str]]:
    """[("text", s) | ("action", s)], with {{- and -}} trimming applied."""
    parts: list[tuple[str, str]] = []
    i = 0
    while True:
        j = text.find("{{", i)
        if j < 0:
            parts.append(("text", text[i:]))
            return parts
        chunk = text[i:j]
        k = text.find("}}", j)
        if k < 0:
            raise InvalidArgument("template: unclosed action")
        action = text[j + 2:k]
        if action.startswith("-"):
            chunk = chunk.rstrip()
            action = action[1:]
        parts.append(("text", chunk))
        trim_right = action.endswith("-")
        if trim_right:
            action = action[:-1]
        parts.append(("action", action.strip()))
        i = k + 2
        if trim_right:
            while i < len(text) and text[i].isspace():
                i += 1


def _tokens(s: str) -> list[str]:
    toks, i = [], 0
    while i < len(s):
        c = s[i]
        if c.isspace():
            i += 1
        elif c in "\"`":
            j = i + 1
            while j < len(s) and s[j] != c:
                j += 2 if s[j] == "\\" and c == '"' else 1
            toks.append(s[i:j + 1])
            i = j + 1
        elif c in "|()":
            toks.append(c)
            i += 1
        else:
            j = i
            while j < len(s) and not s[j].isspace() and s[j] not in "|()":
                j += 1
            toks.append(s[i:j])
            i = j
    return toks


class _Ctx:
    def __init__(self, root) -> None:
        self.root = root


def _value(tok: str, dot, ctx: _Ctx):
    if tok.startswith('"'):
        return json.loads(tok)
    if tok.startswith("`"):
        return tok[1:-1]
    if tok in ("true", "false"):
        return tok == "true"
    if tok == "nil":
        return None
    if tok.lstrip("-").isdigit():
        return int(tok)
    if tok == ".":
        return dot
    if tok.startswith("$"):
        v = ctx.root
        tok = tok[1:]
    elif tok.startswith("."):
        v = dot
    else:
        raise InvalidArgument(f'template: function "{tok}" not defined')
    for name in [p for p in tok.split(".") if p]:
        if isinstance(v, dict):
            v = v.get(name, MISSING)
        else:
            v = getattr(v, name, MISSING) if v is not MISSING else MISSING
    return v


def _eval(toks: list[str], dot, ctx: _Ctx):
    """A pipeline: commands separated by |, each a function call or a value."""
    result = None
    first = True
    while toks:
        if "|" in toks:
            cut = toks.index("|")
            cmd, toks = toks[:cut], toks[cut + 1:]
        else:
            cmd, toks = toks, []
        args = []
        i = 0
        while i < len(cmd):
            if cmd[i] == "(":
                depth, j = 1, i + 1
                while j < len(cmd) and depth:
                    depth += {"(": 1, ")": -1}.get(cmd[j], 0)
                    j += 1
                args.append(_eval(cmd[i + 1:j - 1], dot, ctx))
                i = j
            else:
                args.append(cmd[i])
                i += 1
        head = args[0] if args else None
        if isinstance(head, str) and head in FUNCS:
            vals = [a if not isinstance(a, str) else _value(a, dot, ctx) for a in args[1:]]
            if not first:
                vals.append(result)
            try:
                result = FUNCS[head](*vals)
            except TypeError as e:
                raise InvalidArgument(f"template: wrong arguments for {head}: {e}") from None
        else:
            if len(args) != 1:
                raise InvalidArgument(f"template: can't give argument to non-function {args[0]}")
            result = args[0] if not isinstance(args[0], str) else _value(args[0], dot, ctx)
        first = False
    return result


def _truth(v) -> bool:
    return v is not MISSING and bool(v)


def _parse(parts, pos: int, stop: tuple[str, ...]):
    """Nodes until one of the `stop` keywords; returns (nodes, pos, keyword)."""
    nodes = []
    while pos < len(parts):
        kind, s = parts[pos]
        pos += 1
        if kind == "text":
            if s:
                nodes.append(("text", s))
            continue
        word = s.split(None, 1)[0] if s else ""
        if word in stop:
            return nodes, pos, word
        if word in ("if", "range", "with"):
            body, pos, kw = _parse(parts, pos, ("else", "end"))
            other = []
            if kw == "else":
                other, pos, kw = _parse(parts, pos, ("end",))
            if kw != "end":
                raise InvalidArgument(f"template: unexpected EOF in {word}")
            nodes.append((word, _tokens(s[len(word):]), body, other))
        elif word.startswith("/*") or not s:
            continue
        else:
            nodes.append(("pipe", _tokens(s)))
    if stop:
        raise InvalidArgument("template: unexpected EOF")
    return nodes, pos, ""


def _run(nodes, dot, ctx: _Ctx, out: list[str]) -> None:
    for node in nodes:
        kind = node[0]
        if kind == "text":
            out.append(node[1])
        elif kind == "pipe":
            v = _eval(list(node[1]), dot, ctx)
            out.append(go_str(v))
        else:
            _, toks, body, other = node
            v = _eval(list(toks), dot, ctx)
            if kind == "if":
                _run(body if _truth(v) else other, dot, ctx, out)
            elif kind == "with":
                _run(body if _truth(v) else other, v if _truth(v) else dot, ctx, out)
            else:
                items = (list(v.values()) if isinstance(v, dict) else v) if _truth(v) else []
                if not items:
                    _run(other, dot, ctx, out)
                for item in items:
                    _run(body, item, ctx, out)


def render(template: str, data) -> str:
    parts = _split(template)
    nodes, _, _ = _parse(parts, 0, ())
    out: list[str] = []
    _run(nodes, data, _Ctx(data), out)
    return "".join(out)
