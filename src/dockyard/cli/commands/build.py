"""`build` and `builder prune`."""

from __future__ import annotations

import os
import sys

from ..flags import Command, Flag, UsageError, parse

BUILD = Command("build", "[OPTIONS] PATH | -", "Build an image from a Dockerfile", [
    Flag("--build-arg", "list", "Set build-time variables"),
    Flag("-f, --file", "str", "Name of the Dockerfile (default: \"PATH/Dockerfile\")"),
    Flag("--iidfile", "str", "Write the image ID to the file"),
    Flag("--label", "list", "Set metadata for an image"),
    Flag("--no-cache", "bool", "Do not use cache when building the image"),
    Flag("--platform", "str", "Set platform if server is multi-platform capable"),
    Flag("--progress", "str", "Set type of progress output (\"auto\", \"plain\", \"tty\", \"quiet\")",
         default="auto"),
    Flag("--pull", "bool", "Always attempt to pull a newer version of the image"),
    Flag("-q, --quiet", "bool", "Suppress the build output and print image ID on success"),
    Flag("-t, --tag", "list", "Name and optionally a tag in the \"name:tag\" format"),
    Flag("--target", "str", "Set the target build stage to build"),
    Flag("--rm", "bool", "Remove intermediate containers after a successful build", default=True, hidden=True),
    Flag("--force-rm", "bool", "Always remove intermediate containers", hidden=True),
    Flag("--network", "str", "Set the networking mode for the RUN instructions during build", hidden=True),
], min_args=1, max_args=1, aliases=("image build", "builder build"))
PRUNE = Command("builder prune", "", "Remove build cache", [
    Flag("-a, --all", "bool", "Remove all unused build cache, not just dangling ones"),
    Flag("-f, --force", "bool", "Do not prompt for confirmation"),
    Flag("--filter", "list", "Provide filter values (e.g. \"until=24h\")", hidden=True),
], max_args=0)


def _kv(items: list[str] | None, flag: str) -> dict:
    out: dict = {}
    for item in items or []:
        k, eq, v = item.partition("=")
        if not k:
            raise UsageError(f'invalid argument "{item}" for "{flag}" flag', "build")
        out[k] = v if eq else None
    return out


def build(ctx, argv: list[str]) -> int:
    o, args = parse(BUILD, argv)
    if o["help"]:
        sys.stdout.write(BUILD.help_text())
        return 0
    from ...build.builder import BuildError, BuildOptions
    from ...build.progress import Progress

    mode = o["progress"] or "auto"
    if mode not in ("auto", "plain", "tty", "quiet", "rawjson"):
        raise UsageError(f'invalid --progress value "{mode}": must be auto, plain, tty or quiet', "build")
    quiet = o["quiet"] or mode == "quiet"
    labels = {k: v or "" for k, v in _kv(o["label"], "--label").items()}
    build_args = _kv(o["build_arg"], "--build-arg")
    context = args[0]
    dockerfile = o["file"]
    text = None
    cleanup = None
    try:
        if context == "-":
            if dockerfile == "-":
                raise UsageError("invalid argument: can't use stdin for both build context and dockerfile", "build")
            data = sys.stdin.buffer.read()
            if _is_tar(data):
                context, cleanup = _context_from_tar(ctx, data)
            else:
                text = data
                context = None
        elif dockerfile == "-":
            text = sys.stdin.buffer.read()
            dockerfile = None
        if context is not None and not os.path.isdir(context):
            from ...errors import InvalidArgument

            raise InvalidArgument(f'unable to prepare context: path "{context}" not found')
        if dockerfile is not None and text is None:
            if context is not None and cleanup is not None:
                dockerfile = os.path.join(context, dockerfile)
            if not os.path.exists(dockerfile):
                from ...errors import InvalidArgument

                raise InvalidArgument("unable to prepare context: unable to evaluate symlinks in Dockerfile "
                                      f"path: lstat {os.path.abspath(dockerfile)}: no such file or directory")
        options = BuildOptions(tags=o["tag"] or [], dockerfile=dockerfile, dockerfile_text=text,
                               build_args=build_args, target=o["target"], no_cache=o["no_cache"],
                               pull=o["pull"], quiet=quiet, labels=labels, platform=o["platform"])
        progress = Progress(sys.stderr, quiet=quiet)
        try:
            result = ctx.engine().build(context, options, progress)
        except BuildError as e:
            _report(e)
            return 1
    finally:
        if cleanup:
            from ...core.files import rmtree

            rmtree(cleanup)
    if o["iidfile"]:
        with open(o["iidfile"], "w") as f:
            f.write(result.image_id)
    if quiet:
        sys.stdout.write(result.image_id + "\n")
    return 0


def _report(e) -> None:
    """BuildKit's error report: the step's last output, the Dockerfile lines, the cause."""
    out = []
    if e.step:
        out += ["------", f" > {e.step}:"]
        out += e.logs
        out.append("------")
    if e.line and e.source:
        lines = e.source.splitlines()
        first = max(1, e.line - 4)
        last = min(len(lines), (e.end_line or e.line) + 2)
        out += [f"{e.filename}:{e.line}" if e.end_line in (None, e.line) else f"{e.filename}:{e.line}-{e.end_line}",
                "--------------------"]
        for n in range(first, last + 1):
            mark = ">>>" if e.line <= n <= (e.end_line or e.line) else "   "
            out.append(f" {n:>3} | {mark} {lines[n - 1]}")
        out.append("--------------------")
    out.append(f"ERROR: failed to solve: {e.message}")
    sys.stderr.write("\n".join(out) + "\n")


def _is_tar(data: bytes) -> bool:
    if data[:2] == b"\x1f\x8b" or data[:3] == b"BZh" or data[:6] == b"\xfd7zXZ\x00":
        return True
    return len(data) >= 512 and data[257:262] == b"ustar"


def _context_from_tar(ctx, data: bytes) -> tuple[str, str]:
    """`build - < context.tar`: the context unpacked (safely) into the store's scratch area."""
    import io
    import tarfile

    from ...image.ingest import scratch_dir
    from ...services.copy import _extract

    engine = ctx.engine()
    os.makedirs(engine.layout.root, exist_ok=True)
    tmp = scratch_dir(engine.layout.root)
    os.mkdir(tmp + "/context")
    fd = os.open(tmp + "/context", os.O_RDONLY | os.O_DIRECTORY)
    try:
        stream = io.BytesIO(data)
        if data[:2] == b"\x1f\x8b":
            import gzip

            stream = gzip.GzipFile(fileobj=stream)
        _extract(stream, fd, lambda n: "/".join(p for p in n.split("/") if p and p != ".") or None, None)
    except (tarfile.TarError, OSError) as e:
        from ...core.files import rmtree

        rmtree(tmp)
        from ...errors import InvalidArgument

        raise InvalidArgument(f"unable to prepare context: {e}") from None
    finally:
        os.close(fd)
    return tmp + "/context", tmp


def builder_prune(ctx, argv: list[str]) -> int:
    o, _ = parse(PRUNE, argv)
    if o["help"]:
        sys.stdout.write(PRUNE.help_text())
        return 0
    if not o["force"]:
        sys.stdout.write("WARNING! This will remove all dangling build cache. Are you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    from ...core.units import human_size

    keys, freed = ctx.engine().prune_build_cache(all=o["all"])
    out = []
    if keys:
        out.append("Deleted build cache objects:")
        out += [k[:25] for k in keys]
        out.append("")
    out.append(f"Total reclaimed space: {human_size(freed)}")
    sys.stdout.write("\n".join(out) + "\n")
    return 0
