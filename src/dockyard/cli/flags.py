"""Docker's flag syntax, parsed the way its CLI (cobra/pflag) parses it.

`-it`, `-e K=V`, `-eK=V`, `--env K=V`, `--env=K=V`, `--rm`, `--rm=false`, `--` and, for
`run`/`create`, no flags after the image: what follows it is the command. Errors
read like Docker's and exit 125. `argparse` is not used: it cannot stop at the
first positional the way `docker run` does, and its import costs ~5 ms on `run`.
"""

from __future__ import annotations

from ..errors import InvalidArgument


class UsageError(InvalidArgument):
    """A command line Docker would refuse; the CLI adds "See 'dockyard X --help'."."""

    def __init__(self, message: str, command: str) -> None:
        super().__init__(message)
        self.command = command


class Flag:
    __slots__ = ("short", "long", "kind", "help", "default", "metavar", "dest", "hidden")

    def __init__(self, names: str, kind: str, help: str, default=None, metavar: str = "",
                 hidden: bool = False) -> None:
        self.short = ""
        self.long = ""
        for n in names.split(","):
            n = n.strip()
            if n.startswith("--"):
                self.long = n[2:]
            elif n.startswith("-"):
                self.short = n[1:]
        self.kind = kind  # bool | str | int | list
        self.help = help
        self.metavar = metavar or {"str": "string", "int": "int", "list": "list"}.get(kind, "")
        self.dest = (self.long or self.short).replace("-", "_")
        self.hidden = hidden
        if default is None:
            default = {"bool": False, "list": None}.get(kind)
        self.default = default


class Command:
    __slots__ = ("name", "usage", "summary", "flags", "interspersed", "min_args", "max_args",
                 "by_short", "by_long", "aliases")

    def __init__(self, name: str, usage: str, summary: str, flags: list[Flag] = (),
                 interspersed: bool = True, min_args: int = 0, max_args: int | None = None,
                 aliases: tuple[str, ...] = ()) -> None:
        self.name = name
        self.usage = usage
        self.summary = summary
        self.flags = list(flags) + [Flag("--help", "bool", "Print usage", hidden=True)]
        self.interspersed = interspersed
        self.min_args = min_args
        self.max_args = max_args
        self.by_short = {f.short: f for f in self.flags if f.short}
        self.by_long = {f.long: f for f in self.flags if f.long}
        self.aliases = aliases

    def help_text(self, prog: str = "dockyard") -> str:
        lines = [f"Usage:  {prog} {self.name} {self.usage}".rstrip(), "", self.summary]
        if self.aliases:
            lines += ["", "Aliases:", "  " + ", ".join(f"{prog} {a}" for a in self.aliases)]
        shown = [f for f in self.flags if not f.hidden]
        if shown:
            lines += ["", "Options:"]
            rows = []
            for f in shown:
                left = (f"-{f.short}, " if f.short else "    ") + (f"--{f.long}" if f.long else "")
                if f.kind != "bool":
                    left += " " + f.metavar
                rows.append((left, f.help))
            width = max(len(r[0]) for r in rows) + 3
            lines += [f"  {left.ljust(width)}{text}" for left, text in rows]
        return "\n".join(lines) + "\n"


def _bool(value: str, flag: str, cmd: str) -> bool:
    v = value.lower()
    if v in ("1", "t", "true"):
        return True
    if v in ("0", "f", "false"):
        return False
    raise UsageError(f'invalid argument "{value}" for "{flag}" flag: strconv.ParseBool: parsing "{value}": invalid syntax', cmd)


def parse(cmd: Command, argv: list[str]) -> tuple[dict, list[str]]:
    """Returns (values by dest, positional arguments)."""
    values: dict = {f.dest: (list(f.default) if isinstance(f.default, list) else f.default) for f in cmd.flags}
    args: list[str] = []
    i = 0
    n = len(argv)

    def store(f: Flag, raw: str, shown: str) -> None:
        if f.kind == "int":
            try:
                values[f.dest] = int(raw)
            except ValueError:
                raise UsageError(f'invalid argument "{raw}" for "{shown}" flag: strconv.ParseInt: '
                                 f'parsing "{raw}": invalid syntax', cmd.name) from None
        elif f.kind == "list":
            if values[f.dest] is None:
                values[f.dest] = []
            values[f.dest].append(raw)
        else:
            values[f.dest] = raw

    while i < n:
        a = argv[i]
        i += 1
        if a == "--":
            args.extend(argv[i:])
            break
        if a.startswith("--") and len(a) > 2:
            name, eq, val = a[2:].partition("=")
            f = cmd.by_long.get(name)
            if f is None:
                raise UsageError(f"unknown flag: --{name}", cmd.name)
            shown = (f"-{f.short}, --{f.long}" if f.short else f"--{f.long}")
            if f.kind == "bool":
                values[f.dest] = _bool(val, shown, cmd.name) if eq else True
            elif eq:
                store(f, val, shown)
            elif i < n:
                store(f, argv[i], shown)
                i += 1
            else:
                raise UsageError(f"flag needs an argument: --{name}", cmd.name)
            continue
        if a.startswith("-") and len(a) > 1:
            j = 1
            while j < len(a):
                ch = a[j]
                f = cmd.by_short.get(ch)
                if f is None:
                    if ch == "h":
                        values["help"] = True
                        j += 1
                        continue
                    raise UsageError(f"unknown shorthand flag: '{ch}' in {a}", cmd.name)
                shown = f"-{f.short}, --{f.long}" if f.long else f"-{f.short}"
                j += 1
                if f.kind == "bool":
                    if j < len(a) and a[j] == "=":
                        values[f.dest] = _bool(a[j + 1:], shown, cmd.name)
                        j = len(a)
                    else:
                        values[f.dest] = True
                    continue
                rest = a[j:]
                if rest.startswith("="):
                    rest = rest[1:]
                if rest:
                    store(f, rest, shown)
                elif i < n:
                    store(f, argv[i], shown)
                    i += 1
                else:
                    raise UsageError(f"flag needs an argument: '{ch}' in {a}", cmd.name)
                break
            continue
        args.append(a)
        if not cmd.interspersed:
            args.extend(argv[i:])
            break
    if values.get("help"):
        return values, args
    if len(args) < cmd.min_args:
        need = "1 argument" if cmd.min_args == 1 else f"{cmd.min_args} arguments"
        if cmd.max_args == cmd.min_args:
            raise UsageError(f'"dockyard {cmd.name}" requires exactly {need}.', cmd.name)
        raise UsageError(f'"dockyard {cmd.name}" requires at least {need}.', cmd.name)
    if cmd.max_args is not None and len(args) > cmd.max_args:
        if cmd.max_args == 0:
            raise UsageError(f'"dockyard {cmd.name}" accepts no arguments.', cmd.name)
        need = "1 argument" if cmd.max_args == 1 else f"{cmd.max_args} arguments"
        if cmd.max_args == cmd.min_args:
            raise UsageError(f'"dockyard {cmd.name}" requires exactly {need}.', cmd.name)
        raise UsageError(f'"dockyard {cmd.name}" requires at most {need}.', cmd.name)
    return values, args
