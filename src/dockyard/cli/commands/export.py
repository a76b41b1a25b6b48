"""`export`: a container's file system as a tar archive."""

from __future__ import annotations

import sys

from ..flags import Command, Flag, parse

EXPORT = Command("export", "[OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive", [
    Flag("-o, --output", "str", "Write to a file, instead of STDOUT"),
], min_args=1, max_args=1, aliases=("container export",))


def export(ctx, argv: list[str]) -> int:
    o, args = parse(EXPORT, argv)
    if o["help"]:
        sys.stdout.write(EXPORT.help_text())
        return 0
    from ..archive import write_archive

    engine = ctx.engine()
    write_archive(o["output"], lambda stream: engine.export(args[0], stream))
    return 0
