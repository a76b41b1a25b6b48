"""`ps` / `container ls`: Docker's columns, filters and --format fields."""

from __future__ import annotations

import sys

from ..flags import Command, Flag, parse
from ..table import ellipsis, go_quote

PS = Command("ps", "[OPTIONS]", "List containers", [
    Flag("-a, --all", "bool", "Show all containers (default shows just running)"),
    Flag("-f, --filter", "list", "Filter output based on conditions provided", metavar="filter"),
    Flag("--format", "str", "Format output using a custom template: 'table', 'table TEMPLATE', 'json', "
         "or a Go template"),
    Flag("-n, --last", "int", "Show n last created containers (includes all states)", default=-1),
    Flag("-l, --latest", "bool", "Show the latest created container (includes all states)"),
    Flag("--no-trunc", "bool", "Don't truncate output"),
    Flag("-q, --quiet", "bool", "Only display container IDs"),
    Flag("-s, --size", "bool", "Display total file sizes"),
], max_args=0, aliases=("container ls", "container list", "container ps"))

DEFAULT = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
HEADERS = {"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
           "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE",
           "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS",
           "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS", "Platform": "PLATFORM",
           "HealthStatus": "HEALTH STATUS"}


def go_time(ns: int) -> str:
    """Go's Time.String in local time, whole seconds: `2026-11-28 10:00:00 +0000 UTC`."""
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(ns // 1_000_000_000))


class ContainerContext:
    """One row for the template: Docker's formatter.ContainerContext methods."""

    go_type = "*formatter.ContainerContext"

    def __init__(self, c, trunc: bool, now: int, size=None) -> None:
        self._c = c
        self._trunc = trunc
        self._now = now
        self._size = size  # a function giving (SizeRw, SizeRootFs)

    def ID(self) -> str:
        return self._c.id[:12] if self._trunc else self._c.id

    def Names(self) -> str:
        return self._c.name

    def Image(self) -> str:
        image = self._c.image or "<no image>"
        if self._trunc and image.startswith("sha256:") and len(image) == 71:
            return image[7:19]
        return image

    def Command(self) -> str:
        cmd = self._c.command
        return go_quote(ellipsis(cmd, 20) if self._trunc else cmd)

    def CreatedAt(self) -> str:
        return go_time(self._c.created)

    def RunningFor(self) -> str:
        from ...core.units import human_duration

        return human_duration((self._now - self._c.created) / 1e9) + " ago"

    def Ports(self) -> str:
        return ""

    def State(self) -> str:
        return {"starting": "created"}.get(self._c.state, self._c.state)

    def Status(self) -> str:
        return self._c.status_text(self._now)

    def Size(self) -> str:
        from ...core.units import human_size

        rw, total = self._size(self._c) if self._size else (0, 0)
        return f"{human_size(rw)} (virtual {human_size(total)})" if total > 0 else human_size(rw)

    def Labels(self) -> str:
        return ",".join(sorted(f"{k}={v}" for k, v in self._c.labels.items()))

    def Label(self, name: str) -> str:
        return self._c.labels.get(name, "")

    def Mounts(self) -> str:
        return ""

    def LocalVolumes(self) -> str:
        return "0"

    def Networks(self) -> str:
        return ""

    def Platform(self):
        return None

    def HealthStatus(self) -> str:
        s = self._c.health_status
        return "" if s == "none" else s

    def to_json(self) -> dict:
        return {k: getattr(self, k)() for k in sorted(HEADERS)}


def ps(ctx, argv: list[str]) -> int:
    o, _ = parse(PS, argv)
    if o["help"]:
        sys.stdout.write(PS.help_text())
        return 0
    from ...core.clock import now_ns
    from ...services.events import parse_filters
    from ..template import Formatter, TemplateError

    last = 1 if o["latest"] else o["last"]
    filters = parse_filters(o["filter"])
    fmt = o["format"] or ""
    if o["quiet"]:
        fmt = "{{.ID}}"
    elif fmt in ("", "table"):
        fmt = DEFAULT + ("\t{{.Size}}" if o["size"] else "")
    try:
        formatter = Formatter(fmt, HEADERS)
    except TemplateError as e:
        sys.stderr.write(e.message + "\n")
        return 1
    engine = ctx.engine()
    cs = engine.list_containers(all=o["all"], filters=filters, last=last)
    now = now_ns()
    sizes: dict = {}

    def size(c):
        if c.id not in sizes:
            from ...services.containers import sizes as measure

            sizes[c.id] = measure(engine, c)
        return sizes[c.id]

    rows = [ContainerContext(c, not o["no_trunc"], now, size) for c in cs]
    try:
        out = formatter.render(rows)
    except TemplateError as e:
        sys.stderr.write(e.message + "\n")
        return 1
    sys.stdout.write(out)
    return 0
