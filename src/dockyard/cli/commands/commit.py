"""`commit`, `diff`, `cp`: a container's file system, as an image, a change list, or files."""

from __future__ import annotations

import os
import sys

from ..flags import Command, Flag, UsageError, parse

COMMIT = Command("commit", "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
                 "Create a new image from a container's changes", [
                     Flag("-a, --author", "str", 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")'),
                     Flag("-c, --change", "list", "Apply Dockerfile instruction to the created image"),
                     Flag("-m, --message", "str", "Commit message"),
                     Flag("-p, --pause", "bool", "Pause container during commit", default=True),
                 ], min_args=1, max_args=2, aliases=("container commit",))
DIFF = Command("diff", "CONTAINER", "Inspect changes to files or directories on a container's filesystem",
               [], min_args=1, max_args=1, aliases=("container diff",))
CP = Command("cp", "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tdockyard cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
             "Copy files/folders between a container and the local filesystem\n\n"
             "Use '-' as the source to read a tar archive from stdin\n"
             "and extract it to a directory destination in a container.\n"
             "Use '-' as the destination to stream a tar archive of a\n"
             "container source to stdout.", [
                 Flag("-a, --archive", "bool", "Archive mode (copy all uid/gid information)"),
                 Flag("-L, --follow-link", "bool", "Always follow symbol link in SRC_PATH"),
                 Flag("-q, --quiet", "bool", "Suppress progress output during copy. Progress output is "
                      "automatically suppressed if no terminal is attached"),
             ], min_args=2, max_args=2, aliases=("container cp",))


def commit(ctx, argv: list[str]) -> int:
    o, args = parse(COMMIT, argv)
    if o["help"]:
        sys.stdout.write(COMMIT.help_text())
        return 0
    image_id = ctx.engine().commit(args[0], args[1] if len(args) > 1 else None, o["change"] or [],
                                   o["message"] or "", o["author"] or "", o["pause"])
    sys.stdout.write(image_id + "\n")
    return 0


def diff(ctx, argv: list[str]) -> int:
    o, args = parse(DIFF, argv)
    if o["help"]:
        sys.stdout.write(DIFF.help_text())
        return 0
    sys.stdout.write("".join(f"{kind} {path}\n" for kind, path in ctx.engine().diff(args[0])))
    return 0


def _split(arg: str) -> tuple[str | None, str]:
    """`CONTAINER:PATH` -> (container, path); a local path -> (None, path). As the
    docker CLI: a path starting with `/` or `.` is local even if it has a colon."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return None, arg
    container, _, path = arg.partition(":")
    return container, path


def cp(ctx, argv: list[str]) -> int:
    o, args = parse(CP, argv)
    if o["help"]:
        sys.stdout.write(CP.help_text())
        return 0
    (src_c, src), (dst_c, dst) = _split(args[0]), _split(args[1])
    if src_c and dst_c:
        raise UsageError("copying between containers is not supported", "cp")
    if not src_c and not dst_c:
        raise UsageError("must specify at least one container source", "cp")
    if (src_c and not src) or (dst_c and not dst):
        raise UsageError("filesystem path cannot be empty", "cp")
    engine = ctx.engine()
    quiet = o["quiet"] or not _isatty(2)
    if src_c:
        if dst == "-":
            sys.stdout.flush()
            out = os.fdopen(os.dup(1), "wb")
            try:
                engine.copy_from(src_c, src, None, follow_link=o["follow_link"], archive=o["archive"], out=out)
            finally:
                out.close()
            return 0
        result = engine.copy_from(src_c, src, dst, follow_link=o["follow_link"], archive=o["archive"])
        where = dst
    else:
        if src == "-":
            stdin = os.fdopen(os.dup(0), "rb")
            try:
                result = engine.copy_to(dst_c, None, dst, archive=o["archive"], stream=stdin)
            finally:
                stdin.close()
        else:
            result = engine.copy_to(dst_c, src, dst, follow_link=o["follow_link"], archive=o["archive"])
        where = args[1]
    if not quiet:
        from ...core.units import human_size

        sys.stderr.write(f"Successfully copied {human_size(result.size)} to {where}\n")
    return 0


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False
