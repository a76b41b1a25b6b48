"""`images`, `rmi`, `load`, `import`."""

from __future__ import annotations

import sys

from ..flags import Command, Flag, parse
from ..table import table

IMAGES = Command("images", "[OPTIONS] [REPOSITORY[:TAG]]", "List images", [
    Flag("-a, --all", "bool", "Show all images (default hides intermediate images)"),
    Flag("-q, --quiet", "bool", "Only show image IDs"),
    Flag("--no-trunc", "bool", "Don't truncate output"),
    Flag("--digests", "bool", "Show digests"),
], max_args=1, aliases=("image ls", "image list"))
RMI = Command("rmi", "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", [
    Flag("-f, --force", "bool", "Force removal of the image"),
    Flag("--no-prune", "bool", "Do not delete untagged parents"),
], min_args=1, aliases=("image rm", "image remove"))
LOAD = Command("load", "[OPTIONS]", "Load an image from a tar archive or STDIN", [
    Flag("-i, --input", "str", "Read from tar archive file, instead of STDIN"),
    Flag("-q, --quiet", "bool", "Suppress the load output"),
], max_args=0, aliases=("image load",))
IMPORT = Command("import", "[OPTIONS] file|- [REPOSITORY[:TAG]]",
                 "Import the contents from a tarball to create a filesystem image", [
                     Flag("-c, --change", "list", "Apply Dockerfile instruction to the created image"),
                     Flag("-m, --message", "str", "Set commit message for imported image"),
                     Flag("--platform", "str", "Set platform if server is multi-platform capable"),
                 ], min_args=1, max_args=2, aliases=("image import",))


def images(ctx, argv: list[str]) -> int:
    o, args = parse(IMAGES, argv)
    if o["help"]:
        sys.stdout.write(IMAGES.help_text())
        return 0
    from ...core.clock import now_ns
    from ...core.units import human_duration, human_size
    from ...oci import reference

    engine = ctx.engine()
    want = None
    if args:
        pattern = args[0]
        want = reference.parse(pattern, default_tag=False)
    rows, ids = [], []
    now = now_ns()
    for img, tags in engine.images():
        entries = []
        for t in tags:
            r = reference.parse(t)
            if want is not None and (r.name != want.name or (want.tag and r.tag != want.tag)):
                continue
            entries.append((r.familiar_name, r.tag or "<none>"))
        if not tags and want is None:
            entries.append(("<none>", "<none>"))
        iid = img.id if o["no_trunc"] else img.id[7:19]
        for repo, tag in entries:
            created = human_duration((now - img.created) / 1e9) + " ago" if img.created else "N/A"
            row = [repo, tag]
            if o["digests"]:
                row.append("<none>")  # registry digests come with pull
            row += [iid, created, human_size(img.size)]
            rows.append(row)
            if iid not in ids:
                ids.append(iid)
    if o["quiet"]:
        sys.stdout.write("".join(i + "\n" for i in ids))
        return 0
    header = ["REPOSITORY", "TAG"] + (["DIGEST"] if o["digests"] else []) + ["IMAGE ID", "CREATED", "SIZE"]
    sys.stdout.write(table(header, rows))
    return 0


def rmi(ctx, argv: list[str]) -> int:
    o, args = parse(RMI, argv)
    if o["help"]:
        sys.stdout.write(RMI.help_text())
        return 0
    from ...errors import DockyardError

    engine = ctx.engine()
    failed = 0
    for ref in args:
        try:
            for action, what in engine.remove_image(ref, force=o["force"]):
                print(f"{action}: {what}")
        except DockyardError as e:
            sys.stderr.write(f"Error: {e.message}\n")
            failed += 1
    return 1 if failed else 0


def load(ctx, argv: list[str]) -> int:
    o, _ = parse(LOAD, argv)
    if o["help"]:
        sys.stdout.write(LOAD.help_text())
        return 0
    engine = ctx.engine()
    if o["input"]:
        try:
            f = open(o["input"], "rb")
        except OSError as e:
            from ...errors import InvalidArgument

            raise InvalidArgument(f"open {o['input']}: {e.strerror}") from None
    else:
        if sys.stdin.isatty():
            from ...errors import InvalidArgument

            raise InvalidArgument("requested load from stdin, but stdin is empty")
        f = sys.stdin.buffer
    with f:
        result = engine.load(f)
    if not o["quiet"]:
        from ...oci import reference

        for tag, old in result.moved:
            print(f"The image {reference.familiar(tag)} already exists, renaming the old one with ID {old} to empty string")
        for image_id, tags in result.loaded:
            if tags:
                for t in tags:
                    print(f"Loaded image: {t}")
            else:
                print(f"Loaded image ID: {image_id}")
    return 0


def import_(ctx, argv: list[str]) -> int:
    o, args = parse(IMPORT, argv)
    if o["help"]:
        sys.stdout.write(IMPORT.help_text())
        return 0
    engine = ctx.engine()
    src = args[0]
    if src.startswith(("http://", "https://")):
        import urllib.request

        try:
            f = urllib.request.urlopen(src, timeout=60)
        except (OSError, ValueError) as e:
            from ...errors import Unavailable

            raise Unavailable(f"cannot download {src}: {getattr(e, 'reason', e)}") from None
    elif src == "-":
        f = sys.stdin.buffer
    else:
        try:
            f = open(src, "rb")
        except OSError as e:
            from ...errors import InvalidArgument

            raise InvalidArgument(f"open {src}: {e.strerror}") from None
    with f:
        image_id = engine.import_image(f, args[1] if len(args) > 1 else None, o["change"] or [],
                                       o["message"] or "", source_name=src)
    print(image_id)
    return 0
