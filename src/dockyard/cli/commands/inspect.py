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


# fields of Docker's inspect documents that are Go maps: a missing key there prints
# "<no value>"; anywhere else (struct fields) it is an error, as with Docker
MAP_FIELDS = {"Labels", "Attributes", "Options", "Data", "Networks", "Ports", "ExposedPorts", "Volumes",
              "Sysctls", "StorageOpt", "Tmpfs", "DriverOpts", "Annotations", "Health", "Metadata"}


def inspect(ctx, argv: list[str]) -> int:
    o, args = parse(INSPECT, argv)
    if o["help"]:
        sys.stdout.write(INSPECT.help_text())
        return 0
    from ...errors import DockyardError, InvalidArgument, NotFound
    from ..template import Template, TemplateError

    kind = o["type"]
    if kind not in (None, "container", "image"):
        raise InvalidArgument(f'"{kind}" is not a valid value for --type')
    template = None
    if o["format"] and o["format"] != "json":
        try:
            template = Template(o["format"], strict_maps=MAP_FIELDS)
        except TemplateError as e:
            sys.stderr.write(e.message + "\n")
            return 64
    engine = ctx.engine()
    docs, failed = [], []
    for ref in args:
        doc = None
        try:
            if kind in (None, "container"):
                try:
                    doc = engine.inspect_container(ref)
                    if o["size"]:
                        doc["SizeRw"], doc["SizeRootFs"] = engine.container_size(doc["Id"])
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
        if template is not None:
            state = doc.get("State")
            if isinstance(state, dict) and "Health" not in state:
                # a nil *Health in Docker's struct: absent from the JSON, null to a template
                doc = dict(doc, State=dict(state, Health=None))
            try:
                sys.stdout.write(template.execute(doc) + "\n")
            except TemplateError as e:
                failed.append(e.message)
        else:
            docs.append(doc)
    if template is None:
        sys.stdout.write(json.dumps(docs, indent=4, ensure_ascii=False) + "\n")
    for line in failed:
        sys.stderr.write(line + "\n")
    return 1 if failed else 0
