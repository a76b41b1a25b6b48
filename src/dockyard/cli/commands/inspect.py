"""`inspect`: containers and images as JSON, Docker's shape, 4-space indented."""

from __future__ import annotations

import json
import sys

from ..flags import Command, Flag, parse

INSPECT = Command("inspect", "[OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on Dockyard objects", [
    Flag("-f, --format", "str", "Format output using a custom template"),
    Flag("-s, --size", "bool", "Display total file sizes if the type is container"),
    Flag("--type", "str", "Return JSON for specified type"),
], min_args=1, aliases=("container inspect", "image inspect"))


def inspect(ctx, argv: list[str]) -> int:
    o, args = parse(INSPECT, argv)
    if o["help"]:
        sys.stdout.write(INSPECT.help_text())
        return 0
    from ...errors import DockyardError, InvalidArgument, NotFound

    kind = o["type"]
    if kind not in (None, "container", "image"):
        raise InvalidArgument(f'"{kind}" is not a valid value for --type')
    engine = ctx.engine()
    docs, failed = [], []
    for ref in args:
        doc = None
        try:
            if kind in (None, "container"):
                try:
                    doc = engine.inspect_container(ref)
                except NotFound:
                    if kind == "container":
                        raise
            if doc is None:
                doc = engine.inspect_image(ref)
        except NotFound:
            failed.append(f"Error: No such {'object' if kind is None else kind}: {ref}")
            continue
        except DockyardError as e:
            failed.append(f"Error: {e.message}")
            continue
        docs.append(doc)
    if o["format"] is not None:
        from ..template import render

        for d in docs:
            sys.stdout.write(render(o["format"], d) + "\n")
    else:
        sys.stdout.write(json.dumps(docs, indent=4, ensure_ascii=False) + "\n")
    for line in failed:
        sys.stderr.write(line + "\n")
    return 1 if failed else 0
