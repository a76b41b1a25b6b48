"""`pull` and `push`."""

from __future__ import annotations

import sys

from ..flags import Command, Flag, parse

PULL = Command("pull", "[OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry", [
    Flag("-a, --all-tags", "bool", "Download all tagged images in the repository"),
    Flag("--platform", "str", "Set platform if server is multi-platform capable"),
    Flag("-q, --quiet", "bool", "Suppress verbose output"),
], min_args=1, max_args=1, aliases=("image pull",))
PUSH = Command("push", "[OPTIONS] NAME[:TAG]", "Upload an image to a registry", [
    Flag("-q, --quiet", "bool", "Suppress verbose output"),
], min_args=1, max_args=1, aliases=("image push",))


def pull(ctx, argv: list[str]) -> int:
    o, args = parse(PULL, argv)
    if o["help"]:
        sys.stdout.write(PULL.help_text())
        return 0
    from ...oci import reference
    from ..progress import for_stream

    progress = for_stream(sys.stdout, quiet=o["quiet"])
    if o["all_tags"]:
        name, moved = ctx.engine().pull_all_tags(args[0], o["platform"], progress)
        if hasattr(progress, "finish"):
            progress.finish()
        if not o["quiet"]:
            _status(moved, reference.familiar(name))
        print(name)
        return 0
    ref = reference.parse(args[0], default_tag=False)
    if not ref.tag and not ref.digest:
        if not o["quiet"]:
            print("Using default tag: latest")
    image_id, full, moved = ctx.engine().pull(args[0], o["platform"], progress)
    if hasattr(progress, "finish"):
        progress.finish()
    if not o["quiet"]:
        _status(moved, reference.familiar(full) if reference.parse(full, default_tag=False).tag else args[0])
    print(full)
    return 0


def _status(moved: bool, name: str) -> None:
    print(f"Status: {'Downloaded newer image' if moved else 'Image is up to date'} for {name}")


def push(ctx, argv: list[str]) -> int:
    o, args = parse(PUSH, argv)
    if o["help"]:
        sys.stdout.write(PUSH.help_text())
        return 0
    from ...oci import reference
    from ..progress import for_stream

    progress = for_stream(sys.stdout, quiet=o["quiet"])
    digest, size = ctx.engine().push(args[0], progress)
    if hasattr(progress, "finish"):
        progress.finish()
    ref = reference.parse(args[0])
    if o["quiet"]:
        print(ref.familiar)
    else:
        print(f"{ref.tag}: digest: {digest} size: {size}")
    return 0
