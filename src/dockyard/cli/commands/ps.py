"""`ps` / `container ls`."""

from __future__ import annotations

import sys

from ..flags import Command, Flag, parse
from ..table import ellipsis, go_quote, table

PS = Command("ps", "[OPTIONS]", "List containers", [
    Flag("-a, --all", "bool", "Show all containers (default shows just running)"),
    Flag("-q, --quiet", "bool", "Only display container IDs"),
    Flag("--no-trunc", "bool", "Don't truncate output"),
    Flag("-n, --last", "int", "Show n last created containers (includes all states)", default=-1),
    Flag("-l, --latest", "bool", "Show the latest created container (includes all states)"),
], max_args=0, aliases=("container ls", "container list", "container ps"))


def ps(ctx, argv: list[str]) -> int:
    o, _ = parse(PS, argv)
    if o["help"]:
        sys.stdout.write(PS.help_text())
        return 0
    last = 1 if o["latest"] else o["last"]
    cs = ctx.engine().containers(all=o["all"] or last > 0)
    if last > 0:
        cs = cs[:last]
    full = o["no_trunc"]
    if o["quiet"]:
        sys.stdout.write("".join((c.id if full else c.id[:12]) + "\n" for c in cs))
        return 0
    from ...core.clock import now_ns
    from ...core.units import human_duration

    now = now_ns()
    rows = []
    for c in cs:
        cmd = c.command if full else ellipsis(c.command, 20)
        rows.append([c.id if full else c.id[:12], c.image, go_quote(cmd),
                     human_duration((now - c.created) / 1e9) + " ago", c.status_text(now), "", c.name])
    sys.stdout.write(table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], rows))
    return 0
