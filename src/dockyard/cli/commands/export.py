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
    from ...errors import InvalidArgument

    engine = ctx.engine()
    if o["output"]:
        import os

        tmp = o["output"] + ".tmp-dockyard"
        try:
            with open(tmp, "wb") as f:
                engine.export(args[0], f)
            os.replace(tmp, o["output"])
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return 0
    if sys.stdout.isatty():
        raise InvalidArgument("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    engine.export(args[0], sys.stdout.buffer)
    return 0
