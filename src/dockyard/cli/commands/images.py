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
    Flag("-f, --filter", "list", "Filter output based on conditions provided (dangling=true|false, reference=PATTERN)"),
    Flag("--format", "str", "Format output using a custom template: 'table', 'table TEMPLATE', 'json', "
         "or a Go template"),
], max_args=1, aliases=("image ls", "image list"))
TAG = Command("tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
              "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", [], min_args=2, max_args=2,
              aliases=("image tag",))
SAVE = Command("save", "[OPTIONS] IMAGE [IMAGE...]",
               "Save one or more images to a tar archive (streamed to STDOUT by default)", [
                   Flag("-o, --output", "str", "Write to a file, instead of STDOUT"),
               ], min_args=1, aliases=("image save",))
HISTORY = Command("history", "[OPTIONS] IMAGE", "Show the history of an image", [
    Flag("-H, --human", "bool", "Print sizes and dates in human readable format", default=True),
    Flag("--no-trunc", "bool", "Don't truncate output"),
    Flag("-q, --quiet", "bool", "Only show image IDs"),
], min_args=1, max_args=1, aliases=("image history",))
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

    from ...errors import InvalidArgument

    engine = ctx.engine()
    patterns = [args[0]] if args else []
    dangling = None
    for f in o["filter"] or []:
        key, eq, value = f.partition("=")
        if key == "dangling" and value in ("true", "false", "1", "0"):
            dangling = value in ("true", "1")
        elif key == "reference" and value:
            patterns.append(value)
        else:
            raise InvalidArgument(f"invalid filter '{f}' (supported: dangling=true|false, reference=PATTERN)")
    digests: dict[tuple[str, str], str] = {}
    for name, digest, image_id in engine.db.all("SELECT name, digest, image_id FROM repo_digests"):
        digests[(image_id, name)] = digest
    rows, ids, fields = [], [], []
    now = now_ns()
    for img, tags in engine.images():
        if dangling is not None and dangling != (not tags):
            continue
        entries = []
        for t in tags:
            r = reference.parse(t)
            if patterns and not any(_matches(p, r) for p in patterns):
                continue
            entries.append((r.familiar_name, r.tag or "<none>", digests.get((img.id, r.name), "<none>")))
        if not tags and not patterns:
            named = [(n, d) for (i, n), d in digests.items() if i == img.id]
            entries.append((reference.parse(named[0][0] + ":x").familiar_name if named else "<none>", "<none>",
                            named[0][1] if named else "<none>"))
        iid = img.id if o["no_trunc"] else img.id[7:19]
        for repo, tag, digest in entries:
            created = human_duration((now - img.created) / 1e9) + " ago" if img.created else "N/A"
            row = [repo, tag]
            if o["digests"]:
                row.append(digest)
            row += [iid, created, human_size(img.size)]
            rows.append(row)
            fields.append({"ID": iid, "Repository": repo, "Tag": tag, "Digest": digest, "CreatedSince": created,
                           "CreatedAt": _go_time(img.created), "Size": human_size(img.size),
                           "VirtualSize": human_size(img.size), "SharedSize": "N/A", "UniqueSize": "N/A",
                           "Containers": "N/A"})
            if iid not in ids:
                ids.append(iid)
    if o["quiet"]:
        sys.stdout.write("".join(i + "\n" for i in ids))
        return 0
    if o["format"] and o["format"] != "table":
        return _formatted(o["format"], fields)
    header = ["REPOSITORY", "TAG"] + (["DIGEST"] if o["digests"] else []) + ["IMAGE ID", "CREATED", "SIZE"]
    sys.stdout.write(table(header, rows))
    return 0


IMAGE_HEADERS = {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
                 "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
                 "VirtualSize": "VIRTUAL SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE"}


def _formatted(fmt: str, fields: list[dict]) -> int:
    """`images --format`: Docker's ImageContext fields through the Go template."""
    from ..template import Formatter, Row, TemplateError

    try:
        out = Formatter(fmt, IMAGE_HEADERS).render([Row("*formatter.imageContext", f) for f in fields])
    except TemplateError as e:
        sys.stderr.write(e.message + "\n")
        return 1
    sys.stdout.write(out)
    return 0


def _go_time(ns: int) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(ns // 1_000_000_000)) if ns else ""


def _matches(pattern: str, ref) -> bool:
    """`busybox`, `busybox:1.36`, `me/*`: Docker's reference filter (path.Match on the
    familiar name, and the tag if the pattern has one)."""
    import fnmatch

    name, _, tag = pattern.rpartition(":") if ":" in pattern.rsplit("/", 1)[-1] else (pattern, "", "")
    fam = ref.familiar_name
    if not (fnmatch.fnmatchcase(fam, name) or fnmatch.fnmatchcase(ref.name, name)):
        return False
    return not tag or fnmatch.fnmatchcase(ref.tag or "", tag)


def tag(ctx, argv: list[str]) -> int:
    o, args = parse(TAG, argv)
    if o["help"]:
        sys.stdout.write(TAG.help_text())
        return 0
    ctx.engine().tag(args[0], args[1])
    return 0


def save(ctx, argv: list[str]) -> int:
    o, args = parse(SAVE, argv)
    if o["help"]:
        sys.stdout.write(SAVE.help_text())
        return 0
    from ..archive import write_archive

    engine = ctx.engine()
    write_archive(o["output"], lambda stream: engine.save(args, stream))
    return 0


def history(ctx, argv: list[str]) -> int:
    o, args = parse(HISTORY, argv)
    if o["help"]:
        sys.stdout.write(HISTORY.help_text())
        return 0
    from ...core.clock import now_ns, parse_rfc3339, rfc3339
    from ...core.units import human_duration, human_size
    from ..table import ellipsis

    entries = ctx.engine().history(args[0])
    if o["quiet"]:
        sys.stdout.write("".join((e["Id"] if o["no_trunc"] else e["Id"][7:19]) + "\n"
                                 for e in entries if e["Id"] != "<missing>"))
        return 0
    now = now_ns()
    rows = []
    for e in entries:
        iid = e["Id"] if e["Id"] == "<missing>" or o["no_trunc"] else e["Id"][7:19]
        try:
            ns = parse_rfc3339(e["Created"]) if e["Created"] else 0
        except ValueError:
            ns = 0
        created = (human_duration((now - ns) / 1e9) + " ago" if o["human"] else rfc3339(ns)) if ns else "N/A"
        by = e["CreatedBy"].replace("\n", " ")
        rows.append([iid, created, by if o["no_trunc"] else ellipsis(by, 45),
                     human_size(e["Size"]) if o["human"] else str(e["Size"]), e["Comment"]])
    sys.stdout.write(table(["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], rows))
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
