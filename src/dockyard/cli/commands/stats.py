"""`stats` / `container stats`: Docker's columns, redrawn in place on a terminal every
second (or printed table after table when the output is not a terminal); --no-stream
prints one table."""

from __future__ import annotations

import os
import sys

from ..flags import Command, Flag, parse

STATS = Command("stats", "[OPTIONS] [CONTAINER...]", "Display a live stream of container(s) resource usage statistics", [
    Flag("-a, --all", "bool", "Show all containers (default shows just running)"),
    Flag("--format", "str", "Format output using a custom template: 'table', 'table TEMPLATE', 'json', "
         "or a Go template"),
    Flag("--no-stream", "bool", "Disable streaming stats and only pull the first result"),
    Flag("--no-trunc", "bool", "Do not truncate output"),
], aliases=("container stats",))

DEFAULT = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
HEADERS = {"Container": "CONTAINER", "Name": "NAME", "ID": "CONTAINER ID", "CPUPerc": "CPU %",
           "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
           "PIDs": "PIDS"}
INTERVAL = 1.0  # seconds between samples while streaming
FIRST = 0.5  # seconds over which --no-stream measures CPU


class StatsContext:
    """One row for the template: Docker's statsContext methods."""

    go_type = "*container.statsContext"

    def __init__(self, e, trunc: bool) -> None:
        self._e = e
        self._trunc = trunc

    def Container(self) -> str:
        return self._e.container

    def Name(self) -> str:
        return self._e.name or "--"

    def ID(self) -> str:
        return self._e.id[:12] if self._trunc else self._e.id

    def CPUPerc(self) -> str:
        return "--" if self._e.invalid else f"{self._e.cpu_percent:.2f}%"

    def MemUsage(self) -> str:
        from ...core.units import bytes_size

        if self._e.invalid:
            return "-- / --"
        return f"{bytes_size(self._e.memory)} / {bytes_size(self._e.memory_limit)}"

    def MemPerc(self) -> str:
        return "--" if self._e.invalid else f"{self._e.memory_percent:.2f}%"

    def NetIO(self) -> str:
        from ...core.units import human_size

        return "--" if self._e.invalid else f"{human_size(self._e.net_rx)} / {human_size(self._e.net_tx)}"

    def BlockIO(self) -> str:
        from ...core.units import human_size

        return "--" if self._e.invalid else f"{human_size(self._e.block_read)} / {human_size(self._e.block_write)}"

    def PIDs(self) -> str:
        return "--" if self._e.invalid else str(self._e.pids)

    def to_json(self) -> dict:
        return {k: getattr(self, k)() for k in sorted(HEADERS)}


def stats(ctx, argv: list[str]) -> int:
    o, args = parse(STATS, argv)
    if o["help"]:
        sys.stdout.write(STATS.help_text())
        return 0
    from ..template import Formatter, TemplateError

    fmt = o["format"] or "table"
    try:
        formatter = Formatter(DEFAULT if fmt == "table" else fmt, HEADERS)
    except TemplateError as e:
        sys.stderr.write(e.message + "\n")
        return 1
    engine = ctx.engine()
    trunc = not o["no_trunc"]
    sampler = engine.stats(args, all=o["all"], interval=FIRST if o["no_stream"] else INTERVAL)

    def table() -> tuple[str, int]:
        entries = sampler.sample()
        return formatter.render([StatsContext(e, trunc) for e in entries]), len(entries)

    try:
        if o["no_stream"]:
            text, n = table()
            if n:
                sys.stdout.write(text)
            return 0
        import time

        tty = os.isatty(sys.stdout.fileno())
        if tty:
            sys.stdout.write("\033[2J")
        while True:
            text, n = table()
            if tty:
                # home, each line cleared to its end, the rest of the screen cleared
                sys.stdout.write("\033[H" + "".join(line + "\033[K\n" for line in text.split("\n")[:-1]) + "\033[J")
            else:
                sys.stdout.write(text)
            sys.stdout.flush()
            if args and not n:
                return 0
            time.sleep(INTERVAL)  # the next sample compares with this one
    except KeyboardInterrupt:
        return 0
    except TemplateError as e:
        sys.stderr.write(e.message + "\n")
        return 1
